"""The figures of a campaign's « Tableau de bord » (evaluation/admin_pages/dashboard.py draws them), for the
contracts of some of the campaign's regions, optionally of one department and one state:

- `states`: the contracts in each state: « Non ouverte » (a signed contract of the campaign's type and regions
  without a self-evaluation in the campaign yet), then each « Etat en cours » of SelfEvaluationState;
- `fill`: the fill percentage (evaluation.progress: filled required establishment questions ÷ all of them, rounded
  down, 100 % when there is nothing to fill) of the self-evaluations not closed yet (« Pré-campagne » and
  « Auto-Evaluation »: the establishment may still be filling them), in buckets 0 %, 1–24 %, 25–49 %, 50–74 %,
  75–99 %, 100 %;
- `closures`: the closed self-evaluations per day of their (latest) closure, local time, from the first closure
  to the campaign's deadline (or the last closure, if later), each day with the cumulative count; split into
  closures by the establishment on or before the campaign's deadline, after it (an extension, a reopening), and
  « clôturées d'office » (the latest transition to « Clôturée » has no user: an automatic closure);
- `reminders`: the calendar's e-mails queued (evaluation.models.Notice), per kind;
- `evaluation`: the self-evaluations from « Clôturée » on, per state; for each evaluating body the questions it
  decided and those the referential gives it; the questions consolidated and all questions.

A fixed number of queries, whatever the number of contracts: each figure is one aggregate (GROUP BY or conditional
counts) computed by PostgreSQL.
"""

import datetime
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from contracts.enums import ContractStatus
from contracts.finess import department_q
from contracts.models import Contract
from contracts.regions import REGIONS
from evaluation.enums import EvaluatingBody, NoticeKind, SelfEvaluationState
from evaluation.models import Campaign, Decision, IndicatorValue, Notice, SelfEvaluation, Transition
from evaluation.progress import COUNTED, FILLED


NON_OUVERTE = "non_ouverte"
NON_OUVERTE_LABEL = "Non ouverte"
# The state filter's choices: « Non ouverte », then the lifecycle.
STATE_CHOICES = [(NON_OUVERTE, NON_OUVERTE_LABEL), *SelfEvaluationState.choices]

# Self-evaluations whose fill percentage is shown: those the establishment may still be filling.
NOT_CLOSED_STATES = (SelfEvaluationState.PRE_CAMPAGNE, SelfEvaluationState.AUTO_EVALUATION)
EVALUATED_STATES = tuple(SelfEvaluationState.closed_states())

# (label, lowest percentage, highest percentage) of each bucket of the fill distribution.
FILL_BUCKETS = (
    ("0 %", 0, 0),
    ("1 à 24 %", 1, 24),
    ("25 à 49 %", 25, 49),
    ("50 à 74 %", 50, 74),
    ("75 à 99 %", 75, 99),
    ("100 %", 100, 100),
)


def departments(region_codes) -> list[str]:
    """The departments of the regions of INSEE codes `region_codes` (contracts.regions), in the table's order."""
    codes = set(region_codes)
    return [department for region in REGIONS if region.code in codes for department in region.departments]


@dataclass(frozen=True)
class Scope:
    """What the figures are about: the contracts of `campaign` in `region_ids` (some of the campaign's regions),
    of `department` (« » for all) and in `state` (a SelfEvaluationState, NON_OUVERTE, or « » for all)."""

    campaign: Campaign
    region_ids: tuple[int, ...]
    department: str = ""
    state: str = ""

    def self_evaluations(self):
        """The campaign's self-evaluations in scope (none when the state asked for is « Non ouverte »)."""
        queryset = SelfEvaluation.objects.filter(campaign=self.campaign, contract__ej__region_id__in=self.region_ids)
        if self.department:
            queryset = queryset.filter(department_q(self.department, "contract__ej__finess"))
        if self.state == NON_OUVERTE:
            return queryset.none()
        if self.state:
            queryset = queryset.filter(state=self.state)
        return queryset

    def unopened_contracts(self):
        """The signed contracts of the campaign's type in scope without a self-evaluation in the campaign."""
        if self.state not in ("", NON_OUVERTE):
            return Contract.objects.none()
        queryset = Contract.objects.filter(
            contract_type_id=self.campaign.contract_type_id,
            status=ContractStatus.SIGNE,
            ej__region_id__in=self.region_ids,
        ).exclude(Exists(SelfEvaluation.objects.filter(contract=OuterRef("pk"), campaign=self.campaign)))
        if self.department:
            queryset = queryset.filter(department_q(self.department, "ej__finess"))
        return queryset


@dataclass(frozen=True)
class Bar:
    """One bar of a chart and one row of its table."""

    code: str
    label: str
    count: int


@dataclass(frozen=True)
class ClosureDay:
    day: datetime.date
    count: int
    cumulative: int
    is_deadline: bool


@dataclass(frozen=True)
class BodyProgress:
    code: str
    label: str
    decided: int
    to_decide: int

    @property
    def remaining(self) -> int:
        return self.to_decide - self.decided


@dataclass
class Dashboard:
    scope: Scope
    states: list[Bar]
    fill: list[Bar]
    closures: list[ClosureDay]
    closed_on_time: int
    closed_late: int
    closed_automatically: int
    reminders: list[Bar]
    evaluation_states: list[Bar]
    bodies: list[BodyProgress]
    consolidated: int
    questions: int

    @property
    def contracts(self) -> int:
        return sum(row.count for row in self.states)

    @property
    def not_closed(self) -> int:
        return sum(row.count for row in self.fill)

    @property
    def closed(self) -> int:
        return self.closed_on_time + self.closed_late + self.closed_automatically

    @property
    def reminders_sent(self) -> int:
        return sum(row.count for row in self.reminders)

    @property
    def not_consolidated(self) -> int:
        return self.questions - self.consolidated

    @property
    def evaluated(self) -> int:
        return sum(row.count for row in self.evaluation_states)


def build(scope: Scope) -> Dashboard:
    """Every figure of the dashboard for `scope` (see the module's docstring). Six queries."""
    self_evaluations = scope.self_evaluations()
    by_state = dict(self_evaluations.values_list("state").annotate(n=Count("pk")).order_by())
    unopened = scope.unopened_contracts().count()
    states = [Bar(NON_OUVERTE, NON_OUVERTE_LABEL, unopened)] + [
        Bar(state.value, state.label, by_state.get(state.value, 0)) for state in SelfEvaluationState
    ]
    closures, on_time, late, automatic = _closures(self_evaluations, scope.campaign.self_assessment_deadline)
    bodies, consolidated, questions = _evaluation_progress(self_evaluations.filter(state__in=EVALUATED_STATES))
    return Dashboard(
        scope=scope,
        states=states,
        fill=_fill_distribution(
            self_evaluations.filter(state__in=NOT_CLOSED_STATES), sum(by_state.get(s, 0) for s in NOT_CLOSED_STATES)
        ),
        closures=closures,
        closed_on_time=on_time,
        closed_late=late,
        closed_automatically=automatic,
        reminders=_reminders(self_evaluations),
        evaluation_states=[row for row in states if row.code in EVALUATED_STATES],
        bodies=bodies,
        consolidated=consolidated,
        questions=questions,
    )


def _fill_distribution(self_evaluations, count: int) -> list[Bar]:
    """The `count` self-evaluations of `self_evaluations` per bucket of fill percentage, in one query: the values
    grouped by self-evaluation (evaluation.progress.fill_counts), then counted per bucket by PostgreSQL (integer
    division: rounded down, as evaluation.tree.percent). A self-evaluation without any question to fill (no row) is
    at 100 %."""
    per_self_evaluation = (
        IndicatorValue.objects.filter(COUNTED, self_evaluation__in=self_evaluations)
        .values("self_evaluation")
        .annotate(total=Count("pk"), filled=Count("pk", filter=FILLED))
        .annotate(percent=F("filled") * 100 / F("total"))
        .order_by()
    )
    counts = per_self_evaluation.aggregate(
        **{
            f"bucket_{index}": Count("self_evaluation", filter=Q(percent__gte=low, percent__lte=high))
            for index, (_, low, high) in enumerate(FILL_BUCKETS)
        }
    )
    counts[f"bucket_{len(FILL_BUCKETS) - 1}"] += max(0, count - sum(counts.values()))
    return [
        Bar(f"bucket_{index}", label, counts[f"bucket_{index}"]) for index, (label, _, _) in enumerate(FILL_BUCKETS)
    ]


def _closures(self_evaluations, deadline: datetime.date) -> tuple[list[ClosureDay], int, int, int]:
    """Closures per day (one query grouped by day and by automatic or not), and the totals on time, late and
    « d'office »."""
    latest_closure = Transition.objects.filter(
        self_evaluation=OuterRef("pk"), to_state=SelfEvaluationState.CLOTUREE
    ).order_by("-created_at", "-pk")
    automatic = ExpressionWrapper(Q(user__isnull=True), output_field=BooleanField())
    rows = (
        self_evaluations.filter(state__in=EVALUATED_STATES, closed_at__isnull=False)
        .annotate(
            day=TruncDate("closed_at", tzinfo=timezone.get_current_timezone()),
            automatic=Coalesce(
                Subquery(latest_closure.annotate(automatic=automatic).values("automatic")[:1]),
                Value(False),
                output_field=BooleanField(),
            ),
        )
        .values_list("day", "automatic")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    per_day: dict[datetime.date, int] = {}
    on_time = late = automatically = 0
    for day, is_automatic, n in rows:
        per_day[day] = per_day.get(day, 0) + n
        if is_automatic:
            automatically += n
        elif day <= deadline:
            on_time += n
        else:
            late += n
    if not per_day:
        return [], 0, 0, 0
    first, last = min(per_day), max(max(per_day), deadline)
    days, cumulative = [], 0
    for offset in range((last - first).days + 1):
        day = first + datetime.timedelta(days=offset)
        cumulative += per_day.get(day, 0)
        days.append(ClosureDay(day, per_day.get(day, 0), cumulative, day == deadline))
    return days, on_time, late, automatically


def _reminders(self_evaluations) -> list[Bar]:
    counts = dict(
        Notice.objects.filter(self_evaluation__in=self_evaluations)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [Bar(kind.value, kind.label, counts.get(kind.value, 0)) for kind in NoticeKind]


def _evaluation_progress(evaluated) -> tuple[list[BodyProgress], int, int]:
    """For each body, the questions it decided / those the referential gives it; the questions consolidated / all
    questions (evaluation.decisions.with_progress, summed over the self-evaluations). One query."""
    aggregates = {"questions": Count("pk"), "consolidated": Count("pk", filter=Q(consolidation__isnull=False))}
    for body in EvaluatingBody.values:
        evaluates = Q(**{f"indicator__evaluated_by_{body}": True})
        decided = Exists(Decision.objects.filter(value=OuterRef("pk"), body=body))
        aggregates[f"to_decide_{body}"] = Count("pk", filter=evaluates)
        aggregates[f"decided_{body}"] = Count("pk", filter=evaluates & decided)
    counts = IndicatorValue.objects.filter(self_evaluation__in=evaluated).aggregate(**aggregates)
    bodies = [
        BodyProgress(body.value, body.label, counts[f"decided_{body.value}"], counts[f"to_decide_{body.value}"])
        for body in EvaluatingBody
    ]
    return bodies, counts["consolidated"], counts["questions"]
