"""The période contradictoire: the establishment's observations on the consolidated decisions, and the ARS's
answers (DESIGN.md §3–4).

- `save_observation(value, …)`: « Enregistrer l'observation », a draft for the current round (optimistic
  locking on `Observation.version`, 0 when there is none yet);
- `add_observation_document(observation, uploaded_file, …)`: a document added « the usual way » (the same
  validation, storage and antivirus as the questions' documents, documents.services.upload_document);
- `send_observations(self_evaluation, …)`: « Envoyer mes observations », by a signataire: every draft of the
  round is sent at once, and the evaluators are told by e-mail (a link, never the text);
- `answer_observation(observation, …)`: « Enregistrer la réponse », by the ARS: the answer, and a revised
  consolidated decision or « Décision maintenue ». The only way a consolidated decision changes once a report is
  sent. An answer is final once recorded: it is not edited afterwards;
- `open_next_round(self_evaluation, …)`: « Ouvrir une nouvelle période contradictoire » on the questions still
  contested, with a new version of the report (evaluation.reports.issue_report) giving the new deadline.

Who may contest what, now (`contest_refusal`): the EJ's members who write (contributeurs and signataires), while
the round's deadline is not passed and its observations are not sent, on a question whose consolidated decision is
not « Atteint »; from round 2 on, only on the questions contested in the previous round. Who may answer
(`answer_refusal`) and open a new round (`next_round_refusal`): the ARS agents of the region (`Abilities.reporting`).
The pages ask the same functions as the services, which ask them again on the locked row.

Each write locks the self-evaluation's row, decides on the locked row, and writes one audit event (never the
texts themselves). Refusals raise ObservationRefused (its message is shown to the user) or
services.VersionConflict, and store nothing.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.enums import UserKind
from accounts.models import User
from audit.enums import EventType
from audit.services import record_event
from contracts.enums import MembershipRole
from contracts.perms import in_region, role_in_ej
from documents.services import create_document, upload_document
from ecars import privileges
from ecars.emails import send_templated_email
from ecars.lib.http import RequestContext
from evaluation import rounds
from evaluation.decisions import MOTIVATION_REQUIRED
from evaluation.enums import EvaluatingBody, ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import (
    Consolidation,
    ContradictoryRound,
    IndicatorValue,
    Observation,
    ObservationDocument,
    SelfEvaluation,
)
from evaluation.perms import WRITER_ROLES, abilities_for
from evaluation.services import VersionConflict


__all__ = ["ObservationRefused", "VersionConflict"]

TEXT_REQUIRED = "Rédigez vos observations."
ANSWER_REQUIRED = "Rédigez la réponse à l'observation."
VERDICT_UNKNOWN = "Choisissez une décision parmi celles proposées, ou « Décision maintenue »."
NOT_A_WRITER = (
    "Votre rôle ne permet pas de présenter des observations : seuls les contributeurs et les signataires de "
    "l'établissement le peuvent."
)
NOT_REPORTING = "Seuls les agents ARS de la région de l'établissement répondent aux observations."


class ObservationRefused(Exception):
    """The observation, its document, its sending, its answer or a new round is refused; the message is shown to
    the user, `field` names the form's field it is about, if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- Reading -------------------------------------------------------------------------------------------


def current_round(self_evaluation: SelfEvaluation) -> ContradictoryRound | None:
    """The période contradictoire in course (or the last one), None before the first (no query then)."""
    if not self_evaluation.contradictory_round:
        return None
    return ContradictoryRound.objects.filter(
        self_evaluation_id=self_evaluation.pk, number=self_evaluation.contradictory_round
    ).first()


def drafts_and_sent(contradictory_round: ContradictoryRound) -> tuple[int, int]:
    """How many observations of the round are drafted, and how many sent (one query)."""
    counts = dict.fromkeys(ObservationStatus.values, 0)
    for status in contradictory_round.observations.values_list("status", flat=True):
        counts[status] += 1
    return counts[ObservationStatus.BROUILLON], counts[ObservationStatus.ENVOYEE]


def _member_role(self_evaluation: SelfEvaluation, user) -> str | None:
    """The user's role in the EJ; agency staff are never members."""
    if privileges.role_of(user) is not None:
        return None
    return role_in_ej(user, self_evaluation.contract.ej)


def _closed_since(self_evaluation: SelfEvaluation, today: datetime.date) -> str | None:
    """Why nothing can be contested in `self_evaluation`'s state and calendar, or None."""
    if self_evaluation.state != SelfEvaluationState.CONTRADICTOIRE:
        return (
            "Aucune période contradictoire n'est ouverte (état actuel : "
            f"« {self_evaluation.get_state_display()} ») : aucune observation ne peut être présentée."
        )
    deadline = self_evaluation.contradictory_deadline
    if deadline is None or today > deadline:
        since = f" depuis le {deadline:%d/%m/%Y}" if deadline else ""
        return f"La période contradictoire est close{since} : plus aucune observation ne peut être présentée."
    return None


def contest_refusal(
    self_evaluation: SelfEvaluation,
    value: IndicatorValue,
    user,
    *,
    contradictory_round: ContradictoryRound | None = None,
    today: datetime.date | None = None,
) -> str | None:
    """Why `user` may not draft an observation on `value` now (see the module's docstring), or None when they may.
    `contradictory_round`: the current round, if the caller has it already."""
    if _member_role(self_evaluation, user) not in WRITER_ROLES:
        return NOT_A_WRITER
    closed = _closed_since(self_evaluation, today or timezone.localdate())
    if closed:
        return closed
    contradictory_round = contradictory_round or current_round(self_evaluation)
    if contradictory_round is None:  # pragma: no cover - every round is opened by evaluation.rounds.open_round
        return "La période contradictoire en cours est introuvable."
    if contradictory_round.observations_sent_at is not None:
        return (
            f"Les observations de la période contradictoire n° {contradictory_round.number} ont déjà été envoyées : "
            "elles ne peuvent plus changer."
        )
    verdict = Consolidation.objects.filter(value_id=value.pk).values_list("verdict", flat=True).first()
    if verdict is None:
        return "Cette question n'a pas de décision consolidée : il n'y a rien à contester."
    if verdict == Verdict.ATTEINT:
        return "La décision sur cette question est « Atteint » : il n'y a rien à contester."
    if contradictory_round.number > 1:
        contested = Observation.objects.filter(
            round__self_evaluation_id=self_evaluation.pk,
            round__number=contradictory_round.number - 1,
            status=ObservationStatus.ENVOYEE,
            value_id=value.pk,
        ).exists()
        if not contested:
            return (
                f"La période contradictoire n° {contradictory_round.number} ne porte que sur les questions encore "
                "contestées : celle-ci ne l'était pas dans la période précédente."
            )
    return None


def _reporting_refusal(self_evaluation: SelfEvaluation, user) -> str | None:
    """Why `user` may not answer observations nor open a round of `self_evaluation` now (role, region, state)."""
    if not abilities_for(self_evaluation, user).reporting and not (
        privileges.allows(user, "evaluation.evaluation", "report")
        and in_region(user, self_evaluation.contract.ej.region_id)
    ):
        return NOT_REPORTING
    if self_evaluation.state != SelfEvaluationState.CONTRADICTOIRE:
        return (
            "Les observations ne se traitent que pendant la période contradictoire "
            f"(état actuel : « {self_evaluation.get_state_display()} »)."
        )
    return None


def answer_refusal(self_evaluation: SelfEvaluation, observation: Observation, user) -> str | None:
    """Why `user` may not answer `observation` (its round loaded) now, or None. No query: the admin page asks it
    for each observation."""
    refusal = _reporting_refusal(self_evaluation, user)
    if refusal:
        return refusal
    if observation.round.number != self_evaluation.contradictory_round:
        return (
            f"Cette observation appartient à la période contradictoire n° {observation.round.number}, close : "
            "seules celles de la période en cours reçoivent une réponse."
        )
    if observation.status != ObservationStatus.ENVOYEE:
        return "Cette observation n'a pas été envoyée par l'établissement : elle ne peut pas recevoir de réponse."
    if observation.answered_at is not None:
        return "Cette observation a déjà reçu sa réponse : une réponse enregistrée est définitive."
    return None


def next_round_refusal(self_evaluation: SelfEvaluation, user) -> str | None:
    """Why `user` may not open a new période contradictoire now, or None: the ARS, once every observation sent in
    the current round has its answer and at least one of those questions is still not « Atteint »."""
    refusal = _reporting_refusal(self_evaluation, user)
    if refusal:
        return refusal
    contradictory_round = current_round(self_evaluation)
    if contradictory_round is None:  # pragma: no cover - every round is opened by evaluation.rounds.open_round
        return "La période contradictoire en cours est introuvable."
    sent = list(
        contradictory_round.observations.filter(status=ObservationStatus.ENVOYEE).values_list(
            "answered_at", "value__consolidation__verdict"
        )
    )
    if not sent:
        return (
            f"L'établissement n'a envoyé aucune observation dans la période contradictoire n° "
            f"{contradictory_round.number} : aucune question n'est contestée."
        )
    waiting = sum(1 for answered_at, _ in sent if answered_at is None)
    if waiting:
        return (
            f"Répondez d'abord à chaque observation envoyée ({waiting} en attente) avant d'ouvrir une nouvelle "
            "période contradictoire."
        )
    if all(verdict == Verdict.ATTEINT for _, verdict in sent):
        return (
            "Aucune question n'est encore contestée : toutes les décisions contestées sont désormais « Atteint ». "
            "Envoyez le rapport définitif."
        )
    return None


# --- Writes --------------------------------------------------------------------------------------------


def _lock(self_evaluation_id: int) -> SelfEvaluation:
    return (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej", "contract__contract_type")
        .get(pk=self_evaluation_id)
    )


def _value(value_or_pk) -> IndicatorValue:
    pk = value_or_pk if isinstance(value_or_pk, int) else value_or_pk.pk
    return IndicatorValue.objects.select_related("indicator", "etablissement").get(pk=pk)


def _code(value: IndicatorValue) -> str:
    return value.indicator.code + (f" - {value.etablissement.finess}" if value.etablissement else "")


def _check_contest(locked: SelfEvaluation, value: IndicatorValue, acting_user) -> ContradictoryRound:
    """ObservationRefused unless `acting_user` may draft on `value` now; the current round (locked)."""
    contradictory_round = (
        ContradictoryRound.objects.select_for_update(of=("self",))
        .filter(self_evaluation=locked, number=locked.contradictory_round)
        .first()
    )
    refusal = contest_refusal(locked, value, acting_user, contradictory_round=contradictory_round)
    if refusal:
        raise ObservationRefused(refusal)
    return contradictory_round


@transaction.atomic
def save_observation(
    value: IndicatorValue,
    *,
    acting_user,
    text: str,
    expected_version: int,
    context: RequestContext | None = None,
) -> Observation:
    """« Enregistrer l'observation »: the draft of `acting_user`'s EJ on `value` in the current round, if nobody
    saved it since their page was made (`expected_version`, 0 when there was none): VersionConflict otherwise."""
    text = (text or "").strip()
    if not text:
        raise ObservationRefused(TEXT_REQUIRED, field="text")
    locked = _lock(value.self_evaluation_id)
    contradictory_round = _check_contest(locked, value, acting_user)
    current = (
        Observation.objects.select_for_update(of=("self",))
        .filter(round=contradictory_round, value_id=value.pk)
        .first()
    )
    if (current.version if current else 0) != expected_version:
        raise VersionConflict(current)
    if current is None:
        current = Observation(round=contradictory_round, value_id=value.pk, version=0)
    elif current.text == text:
        return current
    current.text = text
    current.version += 1
    current.written_by = acting_user
    current.save()
    record_event(
        EventType.OBSERVATION_SAVED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        # Never the text: the establishment's words are not the audit's.
        data={"code": _code(_value(value)), "round": contradictory_round.number, "version": current.version},
        context=context,
    )
    return current


def add_observation_document(
    observation: Observation, uploaded_file, *, acting_user, upload_token=None, context: RequestContext | None = None
):
    """« Ajouter document » under a drafted observation: validated, stored and queued for the antivirus as any
    question's document (documents.services.upload_document), then tied to the observation.

    Raises UploadRefused (the file, with the usual message) or ObservationRefused (the same refusals as
    `save_observation`, or an observation already sent), with nothing stored."""
    value = _value(observation.value_id)

    def check() -> SelfEvaluation:
        locked = _lock(value.self_evaluation_id)
        contradictory_round = _check_contest(locked, value, acting_user)
        current = Observation.objects.filter(pk=observation.pk).values_list("round_id", "status").get()
        if current != (contradictory_round.pk, ObservationStatus.BROUILLON):
            raise ObservationRefused("Cette observation a été envoyée : aucun document ne peut plus y être ajouté.")
        return locked

    # Checked before the file is stored, then again on the locked row with the document's rows.
    with transaction.atomic():
        ej = check().contract.ej

    def create_rows(fields):
        check()
        document = create_document(
            fields, acting_user=acting_user, context=context, event_data={"code": _code(value), "observation": True}
        )
        ObservationDocument.objects.create(observation_id=observation.pk, document=document, added_by=acting_user)
        return document

    return upload_document(
        uploaded_file,
        ej=ej,
        acting_user=acting_user,
        upload_token=upload_token,
        context=context,
        create_rows=create_rows,
    )


@transaction.atomic
def send_observations(self_evaluation: SelfEvaluation, *, acting_user, context: RequestContext | None = None) -> int:
    """« Envoyer mes observations »: by a signataire of the EJ, before the deadline; every draft of the current
    round is sent at once (and the round with them: nothing is drafted afterwards). The evaluators are e-mailed.
    Returns how many were sent."""
    locked = _lock(self_evaluation.pk)
    if _member_role(locked, acting_user) != MembershipRole.SIGNATAIRE:
        raise ObservationRefused("Seuls les signataires de l'établissement envoient les observations.")
    closed = _closed_since(locked, timezone.localdate())
    if closed:
        raise ObservationRefused(closed)
    contradictory_round = ContradictoryRound.objects.select_for_update(of=("self",)).get(
        self_evaluation=locked, number=locked.contradictory_round
    )
    if contradictory_round.observations_sent_at is not None:
        raise ObservationRefused(
            f"Les observations de la période contradictoire n° {contradictory_round.number} ont déjà été envoyées le "
            f"{timezone.localtime(contradictory_round.observations_sent_at):%d/%m/%Y}."
        )
    drafts = list(
        Observation.objects.select_for_update(of=("self",))
        .filter(round=contradictory_round, status=ObservationStatus.BROUILLON)
        .select_related("value__indicator", "value__etablissement")
        .order_by("value__indicator__code", "value_id")
    )
    if not drafts:
        raise ObservationRefused(
            "Aucune observation à envoyer : contestez d'abord une question et enregistrez votre observation."
        )
    now = timezone.now()
    Observation.objects.filter(pk__in=[draft.pk for draft in drafts]).update(
        status=ObservationStatus.ENVOYEE, sent_at=now, updated_at=now
    )
    contradictory_round.observations_sent_at = now
    contradictory_round.observations_sent_by = acting_user
    contradictory_round.save(update_fields=["observations_sent_at", "observations_sent_by"])
    values = [draft.value for draft in drafts]
    record_event(
        EventType.OBSERVATIONS_SENT,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={"round": contradictory_round.number, "count": len(drafts), "codes": [_code(v) for v in values]},
        context=context,
    )
    _email_evaluators(locked, contradictory_round, values)
    return len(drafts)


# The agents' kinds of account, by the body they evaluate for.
_KIND_OF_BODY = {
    EvaluatingBody.ARS: UserKind.ARS,
    EvaluatingBody.AM: UserKind.AM,
    EvaluatingBody.OMEDIT: UserKind.OMEDIT,
}
_ROLE_OF_BODY = {
    EvaluatingBody.ARS: privileges.ARS,
    EvaluatingBody.AM: privileges.AM,
    EvaluatingBody.OMEDIT: privileges.OMEDIT,
}


def evaluators_to_notify(locked: SelfEvaluation, contested_values) -> list[str]:
    """The addresses told of the observations: the active agents of the EJ's region whose body evaluates at least
    one contested question (`contested_values`, their indicators loaded), and always the region's ARS agents."""
    bodies = {EvaluatingBody.ARS}
    for value in contested_values:
        bodies.update(value.indicator.evaluating_bodies)
    roles = {_ROLE_OF_BODY[body] for body in bodies}
    candidates = User.objects.filter(
        region_id=locked.contract.ej.region_id,
        kind__in=[_KIND_OF_BODY[body] for body in bodies],
        is_active=True,
        is_staff=True,
        is_superuser=False,
    ).exclude(email="")
    return sorted({user.email for user in candidates if privileges.role_of(user) in roles})


def _email_evaluators(locked: SelfEvaluation, contradictory_round: ContradictoryRound, contested_values) -> None:
    recipients = evaluators_to_notify(locked, contested_values)
    if not recipients:
        return
    contract = locked.contract
    send_templated_email(
        "evaluation/email/observations_sent",
        to=recipients,
        context={
            "ej": contract.ej,
            "contract": contract,
            "campaign": locked.campaign,
            "round_number": contradictory_round.number,
            "count": len(contested_values),
            # A link to the admin page, never the observations' text.
            "url": settings.SITE_URL + reverse("admin:evaluation_evaluation_contradictory", args=[locked.pk]),
        },
    )


@transaction.atomic
def answer_observation(
    observation: Observation,
    *,
    acting_user,
    answer: str,
    revised_verdict: str | None,
    motivation: str = "",
    expected_version: int,
    context: RequestContext | None = None,
) -> Observation:
    """« Enregistrer la réponse »: the ARS's answer to a sent observation of the current round, and the revised
    consolidated decision (`revised_verdict`, with its `motivation` unless « Atteint ») or « Décision maintenue »
    (None). The only change of a consolidated decision once a report is sent. An answer is final once recorded.
    VersionConflict if the observation changed since the agent's page was made."""
    answer = (answer or "").strip()
    motivation = (motivation or "").strip()
    revised_verdict = revised_verdict or None
    if revised_verdict is not None and revised_verdict not in Verdict.values:
        raise ObservationRefused(VERDICT_UNKNOWN, field="revised_verdict")
    if not answer:
        raise ObservationRefused(ANSWER_REQUIRED, field="answer")
    if revised_verdict is not None and revised_verdict != Verdict.ATTEINT and not motivation:
        raise ObservationRefused(MOTIVATION_REQUIRED, field="motivation")
    value = _value(observation.value_id)
    locked = _lock(value.self_evaluation_id)
    current = Observation.objects.select_for_update(of=("self",)).select_related("round").get(pk=observation.pk)
    refusal = answer_refusal(locked, current, acting_user)
    if refusal:
        raise ObservationRefused(refusal)
    if current.version != expected_version:
        raise VersionConflict(current)
    consolidation = Consolidation.objects.select_for_update(of=("self",)).get(value_id=value.pk)
    previous = consolidation.verdict
    now = timezone.now()
    if revised_verdict is not None:
        consolidation.verdict = revised_verdict
        consolidation.motivation = motivation
        consolidation.version += 1
        consolidation.decided_by = acting_user
        consolidation.decided_at = now
        consolidation.save(update_fields=["verdict", "motivation", "version", "decided_by", "decided_at"])
    current.answer = answer
    current.revised_verdict = revised_verdict or ""
    current.answered_by = acting_user
    current.answered_at = now
    current.version += 1
    current.save(update_fields=["answer", "revised_verdict", "answered_by", "answered_at", "version", "updated_at"])
    record_event(
        EventType.OBSERVATION_ANSWERED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={
            "code": _code(value),
            "round": current.round.number,
            "from": previous,
            "to": revised_verdict or previous,
            "maintained": revised_verdict is None,
            "consolidation_version": consolidation.version,
        },
        context=context,
    )
    return current


@transaction.atomic
def open_next_round(
    self_evaluation: SelfEvaluation,
    *,
    acting_user,
    deadline: datetime.date | None,
    context: RequestContext | None = None,
) -> ContradictoryRound:
    """« Ouvrir une nouvelle période contradictoire » (see `next_round_refusal`): round n + 1 until `deadline` (in
    the future), on the questions still contested, then a new version of the report e-mailed to the signataires
    with the new deadline (evaluation.reports.issue_report reads it from the self-evaluation). Returns the new
    round. A refusal (ObservationRefused, `field` "deadline" for the date) changes nothing."""
    from evaluation import reports  # reports comes after the rounds it opens; imported when used

    locked = _lock(self_evaluation.pk)
    refusal = next_round_refusal(locked, acting_user)
    if refusal:
        raise ObservationRefused(refusal)
    try:
        rounds.check_deadline(deadline)
        new_round = rounds.open_round(
            locked,
            deadline=deadline,
            acting_user=acting_user,
            reason="Nouvelle période contradictoire sur les questions encore contestées.",
            context=context,
        )
    except rounds.RoundRefused as refused:
        raise ObservationRefused(str(refused), field="deadline") from refused
    try:
        reports.issue_report(locked, acting_user=acting_user, final=False, context=context)
    except reports.ReportRefused as refused:
        raise ObservationRefused(str(refused)) from refused
    return new_round
