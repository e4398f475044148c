"""Each evaluating body's decisions, question by question (DESIGN.md §3–4), and the answers the bodies give to the
questions « renseignées par » them (the establishment's grey dots).

- `record_decision(value, …)`: the ARS, the Assurance Maladie or the OMEDIT records its decision on one question
  the referential gives it (`Node.evaluating_bodies`), in its region, while the self-evaluation is « Clôturée »
  or « En évaluation »; the first decision of any body moves it to « En évaluation ». Optimistic locking on
  `Decision.version` (0: no decision yet), as for answers. Frozen once the report is sent.
- `fill_for_body(value, …)`: the body that fills a question answers it, with the validation, history and
  optimistic locking of the establishment's answers (evaluation.services.write_answer).
- `with_progress(queryset, body)`: questions decided by a body / those it decides (national administrators:
  consolidated / all), for the list « Évaluations ».

The private note never leaves the agencies: never audited, never shown to the establishment.
"""

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from ecars.lib.http import RequestContext
from evaluation import services
from evaluation.enums import EvaluatingBody, SelfEvaluationState, Verdict
from evaluation.models import Decision, IndicatorValue, SelfEvaluation
from evaluation.perms import abilities_for


MOTIVATION_REQUIRED = "La motivation est obligatoire, sauf pour « Atteint »."


class DecisionRefused(Exception):
    """The decision (or the body's answer) cannot be recorded; the message is shown to the agent, and `field`
    names the form's field it is about, if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def _lock(value: IndicatorValue) -> tuple[SelfEvaluation, IndicatorValue]:
    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=value.self_evaluation_id)
    )
    current = IndicatorValue.objects.select_related("indicator", "etablissement").get(pk=value.pk)
    current.self_evaluation = locked
    return locked, current


def _refusal(locked: SelfEvaluation, current: IndicatorValue, acting_user, *, filling: bool) -> str | None:
    """Why `acting_user` may not decide (or, `filling`, answer) `current` now; None when they may."""
    can = abilities_for(locked, acting_user)
    allowed = can.fill(current) if filling else can.decide(current)
    if allowed:
        return None
    if can.body is None:
        return "Seuls les agents de l'ARS, de l'Assurance Maladie et de l'OMEDIT de la région évaluent les contrats."
    body = EvaluatingBody(can.body).label
    if locked.state not in (SelfEvaluationState.CLOTUREE, SelfEvaluationState.EN_EVALUATION):
        return (
            f"Aucune décision ne peut être enregistrée à l'état « {locked.get_state_display()} » : les décisions "
            "se prennent une fois la saisie close, jusqu'à l'envoi du rapport."
        )
    if filling:
        return f"Cette question n'est pas renseignée par l'instance {body}."
    return f"Cette question n'est pas évaluée par l'instance {body}."


@transaction.atomic
def record_decision(
    value: IndicatorValue,
    *,
    acting_user,
    verdict: str,
    motivation: str,
    private_note: str,
    expected_version: int,
    context: RequestContext | None = None,
) -> Decision:
    """Record the decision of `acting_user`'s body on `value` (see the module's docstring). Raises
    DecisionRefused or services.VersionConflict (with the decision stored now); a refusal stores nothing."""
    locked, current = _lock(value)
    refusal = _refusal(locked, current, acting_user, filling=False)
    if refusal:
        raise DecisionRefused(refusal)
    if verdict not in Verdict.values:
        raise DecisionRefused("Choisissez une décision parmi celles proposées.", field="verdict")
    motivation, private_note = motivation.strip(), private_note.strip()
    if verdict != Verdict.ATTEINT and not motivation:
        raise DecisionRefused(MOTIVATION_REQUIRED, field="motivation")
    body = abilities_for(locked, acting_user).body
    decision = (
        Decision.objects.select_for_update(of=("self",))
        .select_related("decided_by")
        .filter(value=current, body=body)
        .first()
    )
    if (decision.version if decision else 0) != expected_version:
        raise services.VersionConflict(decision)
    if decision is None:
        decision = Decision(value=current, body=body, version=1)
    else:
        decision.version += 1
    decision.verdict, decision.motivation, decision.private_note = verdict, motivation, private_note
    decision.decided_by, decision.decided_at = acting_user, timezone.now()
    decision.save()
    if locked.state == SelfEvaluationState.CLOTUREE:
        services.transition(
            locked,
            to_state=SelfEvaluationState.EN_EVALUATION,
            acting_user=acting_user,
            reason="Première décision d'une instance.",
            context=context,
        )
    record_event(
        EventType.DECISION_RECORDED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=current,
        data={"code": current.indicator.code, "body": body, "verdict": verdict, "version": decision.version},
        context=context,
    )
    return decision


@transaction.atomic
def fill_for_body(
    value: IndicatorValue,
    *,
    acting_user,
    expected_version: int,
    answer: dict,
    context: RequestContext | None = None,
) -> IndicatorValue:
    """Answer `value`, a question « renseignée par » `acting_user`'s body, during the evaluation. `answer`: the
    keys of services.ANSWER_FIELDS, validated by the question form. Raises DecisionRefused or VersionConflict."""
    locked, current = _lock(value)
    refusal = _refusal(locked, current, acting_user, filling=True)
    if refusal:
        raise DecisionRefused(refusal)
    current = (
        IndicatorValue.objects.select_for_update(of=("self",))
        .select_related("indicator", "etablissement")
        .get(pk=value.pk)
    )
    current.self_evaluation = locked
    return services.write_answer(
        current, acting_user=acting_user, expected_version=expected_version, answer=answer, context=context
    )


# --- Reading ---------------------------------------------------------------------------------------


def body_q(body: str, prefix: str = "") -> Q:
    """The questions (IndicatorValue rows, through `prefix`) the referential gives to `body` to evaluate."""
    return Q(**{f"{prefix}indicator__evaluated_by_{body}": True})


def with_progress(queryset, body: str | None):
    """`queryset` of self-evaluations annotated with `to_decide` (the questions `body` evaluates) and `decided`
    (those it decided); without a body (national administrators), all questions and those consolidated.
    Two subqueries, whatever the number of rows and questions."""

    def count(filter_q: Q) -> Coalesce:
        rows = (
            IndicatorValue.objects.filter(filter_q, self_evaluation=OuterRef("pk"))
            .order_by()
            .values("self_evaluation")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))

    if body is None:
        return queryset.annotate(to_decide=count(Q()), decided=count(Q(consolidation__isnull=False)))
    return queryset.annotate(
        to_decide=count(body_q(body)),
        decided=count(body_q(body) & Q(decisions__body=body)),
    )


def _in_bodies_order(decisions) -> list[Decision]:
    order = {body: position for position, body in enumerate(EvaluatingBody.values)}
    return sorted(decisions, key=lambda decision: order[decision.body])


def decisions_by_value(self_evaluation: SelfEvaluation) -> dict[int, list[Decision]]:
    """The bodies' decisions on `self_evaluation`, by value id, in the bodies' order. One query."""
    by_value: dict[int, list[Decision]] = {}
    for decision in Decision.objects.filter(value__self_evaluation=self_evaluation).select_related("decided_by"):
        by_value.setdefault(decision.value_id, []).append(decision)
    return {value_id: _in_bodies_order(decisions) for value_id, decisions in by_value.items()}


def decisions_on(value) -> list[Decision]:
    """The bodies' decisions on one question, in the bodies' order: a question's page reads its own, not the whole
    contract's. One query."""
    return _in_bodies_order(Decision.objects.filter(value=value).select_related("decided_by"))
