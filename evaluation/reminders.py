"""The reminders of a campaign's calendar (`manage.py send_reminders`, daily by cron), each recorded as a `Notice`
in the transaction that queues it, so that nobody ever gets the same reminder twice:

- establishments: J-30, J-7 and J-1 before each EJ's own deadline (its extension included), to every active member
  of the EJ whose self-evaluation is still in « Auto-Evaluation » — checked again on the locked row, so that an EJ
  that closed meanwhile is never reminded —, with the fill percentage and the questions still red. A run that
  missed days sends the most urgent reminder due, not the ones it skipped (at J-5, the J-7 one, never the J-30);
- evaluators: contracts closed 30 days ago or more and not evaluated yet (a report not sent), to the agents of the
  region of each body that still has questions to decide; observations sent by the establishment and not answered
  when the période contradictoire ends in 7 days or less, to the region's ARS agents. Each agent gets one e-mail
  listing their contracts.

A new deadline (an extension, a new période contradictoire) makes new reminders.
"""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.urls import reverse

from accounts.enums import UserKind
from accounts.models import User
from audit.enums import EventType
from audit.services import record_event
from contracts.models import Membership
from ecars.emails import send_templated_email
from evaluation import progress
from evaluation.decisions import with_progress
from evaluation.display import question_label
from evaluation.enums import EvaluatingBody, NoticeKind, ObservationStatus
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import Notice, Observation, SelfEvaluation


BATCH = 200
EVALUATION_DELAY = datetime.timedelta(days=30)
OBSERVATIONS_NOTICE = datetime.timedelta(days=7)
# The red questions an establishment's reminder names; the others are counted.
LISTED = 30

_BODY_KIND = {EvaluatingBody.ARS: UserKind.ARS, EvaluatingBody.AM: UserKind.AM, EvaluatingBody.OMEDIT: UserKind.OMEDIT}


def due_reminder(days_left: int) -> NoticeKind | None:
    """The establishment reminder due `days_left` days before the deadline: J-1 on the eve and on the day itself,
    J-7 from 7 to 2 days before, J-30 from 30 to 8 days before; None otherwise."""
    if days_left < 0:
        return None
    for kind, days in NoticeKind.establishment_reminders():
        if days_left <= days:
            return kind
    return None


def _not_yet_told(pairs: list[tuple[SelfEvaluation, NoticeKind, datetime.date, list]]) -> list:
    """`pairs` without the recipients already sent that notice for that deadline (one query)."""
    if not pairs:
        return []
    sent = set(
        Notice.objects.filter(self_evaluation__in=[self_evaluation for self_evaluation, _, _, _ in pairs]).values_list(
            "self_evaluation_id", "kind", "deadline", "recipient_id"
        )
    )
    kept = []
    for self_evaluation, kind, deadline, users in pairs:
        users = [user for user in users if (self_evaluation.pk, kind, deadline, user.pk) not in sent]
        if users:
            kept.append((self_evaluation, kind, deadline, users))
    return kept


def _members(ej_ids) -> dict[int, list[User]]:
    members = defaultdict(list)
    for membership in (
        Membership.objects.filter(ej__in=ej_ids, user__is_active=True).select_related("user").order_by("user__email")
    ):
        members[membership.ej_id].append(membership.user)
    return members


def _agents(region_ids, kinds) -> dict[tuple[int, str], list[User]]:
    agents = defaultdict(list)
    for user in User.objects.filter(region__in=region_ids, kind__in=kinds, is_staff=True, is_active=True).order_by(
        "email"
    ):
        agents[(user.region_id, user.kind)].append(user)
    return agents


def establishment_reminders(today: datetime.date, *, only=None) -> list:
    """[(self-evaluation, kind, deadline, [users])]: the J-30/J-7/J-1 reminders due today and not sent yet, for the
    self-evaluations in « Auto-Evaluation » (`only`: a queryset limiting them, for the locked re-check)."""
    open_ones = (only if only is not None else SelfEvaluation.objects).filter(
        state=State.AUTO_EVALUATION, campaign__self_assessment_start__lte=today
    )
    pairs = []
    rows = list(open_ones.select_related("campaign", "contract__ej"))
    members = _members({row.contract.ej_id for row in rows})
    for self_evaluation in rows:
        kind = due_reminder((self_evaluation.deadline - today).days)
        if kind is not None and members[self_evaluation.contract.ej_id]:
            pairs.append((self_evaluation, kind, self_evaluation.deadline, members[self_evaluation.contract.ej_id]))
    return _not_yet_told(pairs)


def evaluation_reminders(today: datetime.date, *, only=None) -> list:
    """Contracts closed for 30 days or more and not evaluated: for each body with questions left to decide, the
    agents of that body in the EJ's region. The notice's deadline is the closure's date + 30 days."""
    late = (only if only is not None else SelfEvaluation.objects).filter(
        state__in=[State.CLOTUREE, State.EN_EVALUATION], closed_at__date__lte=today - EVALUATION_DELAY
    )
    rows = {row.pk: row for row in late.select_related("campaign", "contract__ej")}
    if not rows:
        return []
    waiting_on = defaultdict(list)  # self-evaluation pk -> the bodies that still have questions to decide
    for body in EvaluatingBody.values:
        for pk in with_progress(late, body).filter(decided__lt=F("to_decide")).values_list("pk", flat=True):
            waiting_on[pk].append(body)
    agents = _agents({row.contract.ej.region_id for row in rows.values()}, [_BODY_KIND[b] for b in _BODY_KIND])
    pairs = []
    for pk, bodies in waiting_on.items():
        self_evaluation = rows[pk]
        region_id = self_evaluation.contract.ej.region_id
        users = [user for body in bodies for user in agents[(region_id, _BODY_KIND[body])]]
        if users:
            deadline = self_evaluation.closed_at.date() + EVALUATION_DELAY
            pairs.append((self_evaluation, NoticeKind.EVALUATION_ATTENDUE, deadline, users))
    return _not_yet_told(pairs)


def observation_reminders(today: datetime.date, *, only=None) -> list:
    """Observations sent and not answered when the période contradictoire ends in 7 days or less: the region's ARS
    agents. The notice's deadline is the période's."""
    unanswered = Observation.objects.filter(
        round__self_evaluation=OuterRef("pk"),
        round__number=OuterRef("contradictory_round"),
        status=ObservationStatus.ENVOYEE,
        answered_at__isnull=True,
    )
    waiting = (
        (only if only is not None else SelfEvaluation.objects)
        .filter(
            state=State.CONTRADICTOIRE,
            contradictory_deadline__gte=today,
            contradictory_deadline__lte=today + OBSERVATIONS_NOTICE,
        )
        .filter(Exists(unanswered))
        .select_related("campaign", "contract__ej")
    )
    rows = list(waiting)
    agents = _agents({row.contract.ej.region_id for row in rows}, [UserKind.ARS])
    pairs = [
        (
            row,
            NoticeKind.OBSERVATIONS_A_REPONDRE,
            row.contradictory_deadline,
            agents[(row.contract.ej.region_id, UserKind.ARS)],
        )
        for row in rows
        if agents[(row.contract.ej.region_id, UserKind.ARS)]
    ]
    return _not_yet_told(pairs)


FINDERS = {
    "establishments": establishment_reminders,
    "evaluations": evaluation_reminders,
    "observations": observation_reminders,
}


def due(today: datetime.date) -> list:
    """Every reminder due today and not sent yet (the dry run's report): [(self-evaluation, kind, deadline, users)]."""
    return [item for finder in FINDERS.values() for item in finder(today)]


def send_reminders(today: datetime.date, *, progress_bar=lambda items, total: items) -> dict[NoticeKind, int]:
    """Send every reminder due today, in batches of self-evaluations: each batch locks its rows, finds again what is
    due on them (a closure or an answer since the first look drops them), records the notices and queues the e-mails
    in one transaction. Returns the number of e-mails queued per kind."""
    sent: dict[NoticeKind, int] = defaultdict(int)
    ids = sorted({self_evaluation.pk for self_evaluation, _, _, _ in due(today)})
    batches = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
    for batch in progress_bar(batches, len(batches)):
        with transaction.atomic():
            locked = list(
                SelfEvaluation.objects.select_for_update(of=("self",))
                .filter(pk__in=batch)
                .values_list("pk", flat=True)
            )
            only = SelfEvaluation.objects.filter(pk__in=locked)
            items = [item for finder in FINDERS.values() for item in finder(today, only=only)]
            _queue(items, today)
            for _, kind, _, users in items:
                sent[kind] += len(users)
            if items:
                record_event(
                    EventType.NOTICES_QUEUED,
                    data={
                        "reminders": _count(items),
                        "date": today.isoformat(),
                    },
                )
    return dict(sent)


def _count(items) -> dict[str, int]:
    counts = defaultdict(int)
    for _, kind, _, users in items:
        counts[str(kind)] += len(users)
    return counts


def _queue(items, today: datetime.date) -> None:
    Notice.objects.bulk_create(
        Notice(self_evaluation=self_evaluation, kind=kind, recipient=user, deadline=deadline)
        for self_evaluation, kind, deadline, users in items
        for user in users
    )
    establishment_items = [item for item in items if item[1] in dict(NoticeKind.establishment_reminders())]
    fill = progress.fill_counts(SelfEvaluation.objects.filter(pk__in=[item[0].pk for item in establishment_items]))
    red = progress.red_questions(SelfEvaluation.objects.filter(pk__in=[item[0].pk for item in establishment_items]))
    for self_evaluation, kind, deadline, users in establishment_items:
        missing = red.get(self_evaluation.pk, [])
        context = {
            **_contract_context(self_evaluation),
            "kind": kind,
            "days_left": (deadline - today).days,
            "deadline": deadline,
            "percent": progress.fill_percent(fill, self_evaluation.pk),
            "missing": [question_label(value.indicator, value.etablissement) for value in missing[:LISTED]],
            "missing_more": max(len(missing) - LISTED, 0),
            "missing_count": len(missing),
        }
        for user in users:
            send_templated_email("evaluation/email/reminder", to=[user.email], context=context)
    # Evaluators: one e-mail per agent, listing their contracts.
    by_agent = defaultdict(list)
    for self_evaluation, kind, deadline, users in items:
        if kind in (NoticeKind.EVALUATION_ATTENDUE, NoticeKind.OBSERVATIONS_A_REPONDRE):
            for user in users:
                by_agent[user].append((kind, self_evaluation, deadline))
    for user, lines in by_agent.items():
        send_templated_email(
            "evaluation/email/evaluator_reminder",
            to=[user.email],
            context={
                "evaluations": [
                    _admin_line(se, deadline, "evaluate")
                    for kind, se, deadline in lines
                    if kind == NoticeKind.EVALUATION_ATTENDUE
                ],
                "observations": [
                    _admin_line(se, deadline, "consolidate")
                    for kind, se, deadline in lines
                    if kind == NoticeKind.OBSERVATIONS_A_REPONDRE
                ],
            },
        )


def _contract_context(self_evaluation: SelfEvaluation) -> dict:
    contract = self_evaluation.contract
    return {
        "campaign": self_evaluation.campaign,
        "contract": contract,
        "ej": contract.ej,
        "contract_url": settings.SITE_URL + reverse("contracts:contract_detail", args=[contract.public_id]),
    }


def _admin_line(self_evaluation: SelfEvaluation, deadline: datetime.date, page: str) -> dict:
    return {
        **_contract_context(self_evaluation),
        "closed_at": self_evaluation.closed_at,
        "deadline": deadline,
        "url": settings.SITE_URL + reverse(f"admin:evaluation_evaluation_{page}", args=[self_evaluation.pk]),
    }
