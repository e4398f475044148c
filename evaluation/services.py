"""Writes on self-evaluations. Views, admin actions and commands all go through these functions.

Each takes the `acting_user` and, when a request asked for it, the request's `context` (its IP address and
id, never the request), and writes its audit rows in its own transaction. What this user may do is decided
by `evaluation.perms.Abilities`, computed on the locked self-evaluation. A refused write is audited too, by
`record_refused_write`, once the refused transaction is rolled back, so that the row stays.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.enums import ContractStatus
from contracts.models import Contract
from contracts.perms import may
from ecars.lib.http import RequestContext
from evaluation import current_campaign
from evaluation.display import question_label
from evaluation.enums import AnswerLevel, AssignmentScope
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import Campaign, IndicatorValue, Node, SelfEvaluation, Transition
from evaluation.perms import Abilities, abilities_for
from evaluation.tree import build_tree


# The lifecycle of DESIGN.md §4: from each state, the states it may go to.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    State.PRE_CAMPAGNE: frozenset({State.AUTO_EVALUATION}),
    State.AUTO_EVALUATION: frozenset({State.CLOTUREE}),
    # From « clôturée »: the ARS reopens it (with a reason) or starts evaluating.
    State.CLOTUREE: frozenset({State.AUTO_EVALUATION, State.EN_EVALUATION}),
    State.EN_EVALUATION: frozenset({State.RAPPORT_ENVOYE}),
    State.RAPPORT_ENVOYE: frozenset({State.CONTRADICTOIRE, State.DEFINITIVE}),
    # From a période contradictoire: a new one (round n + 1, on the questions still contested), back to the
    # evaluation, or the final report.
    State.CONTRADICTOIRE: frozenset({State.CONTRADICTOIRE, State.EN_EVALUATION, State.DEFINITIVE}),
    State.DEFINITIVE: frozenset(),
}

# Transitions that undo someone's work or deviate from the calendar must say why.
_REASON_REQUIRED = {(State.CLOTUREE, State.AUTO_EVALUATION)}


class TransitionRefused(Exception):
    """The requested change of state is not allowed; the message is shown to the user."""


@transaction.atomic
def transition(
    self_evaluation: SelfEvaluation,
    *,
    to_state: str,
    acting_user,
    reason: str = "",
    context: RequestContext | None = None,
) -> SelfEvaluation:
    """Move a self-evaluation to `to_state` if its current state allows it.

    The row is locked first, so that concurrent transitions and saves are serialised, and the
    source state is checked on the locked row, not on the caller's copy. Writes the transition
    log and an audit event in the same transaction.
    """
    # of=("self",): the contract and the EJ are read, not locked (other writers of theirs must not wait).
    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("contract__ej")
        .get(pk=self_evaluation.pk)
    )
    from_state = locked.state
    if to_state not in ALLOWED_TRANSITIONS[from_state]:
        raise TransitionRefused(
            f"Impossible de passer de l'état « {State(from_state).label} » à l'état « {State(to_state).label} »."
        )
    reason = reason.strip()
    if (from_state, to_state) in _REASON_REQUIRED and not reason:
        raise TransitionRefused("Un motif est obligatoire pour ce changement d'état.")

    locked.state = to_state
    update_fields = ["state", "updated_at"]
    if to_state == State.CLOTUREE:
        locked.closed_at = timezone.now()
        locked.closed_by = acting_user
        update_fields += ["closed_at", "closed_by"]
    if to_state == State.CONTRADICTOIRE:
        locked.contradictory_round += 1
        update_fields.append("contradictory_round")
    locked.save(update_fields=update_fields)

    Transition.objects.create(
        self_evaluation=locked,
        from_state=from_state,
        to_state=to_state,
        user=acting_user,
        reason=reason,
    )
    record_event(
        EventType.STATE_CHANGED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={"from": from_state, "to": to_state, "reason": reason},
        context=context,
    )
    return locked


@transaction.atomic
def create_self_evaluation(*, contract, campaign: Campaign) -> SelfEvaluation:
    """Create a contract's self-evaluation for a campaign with one empty value per question.

    EJ-level indicators get one value; ET-level indicators one per ET covered by the contract.
    Targets start from the indicator's default target.
    """
    self_evaluation = SelfEvaluation.objects.create(contract=contract, campaign=campaign)
    etablissements = list(contract.etablissements.all())
    values = []
    indicators = Node.objects.indicators().filter(referential_id=campaign.referential_id)
    for indicator in indicators.for_region(contract.ej.region_id):
        targets = etablissements if indicator.answer_level == AnswerLevel.ET else [None]
        values.extend(
            IndicatorValue(
                self_evaluation=self_evaluation,
                indicator=indicator,
                etablissement=etablissement,
                target=indicator.default_target,
            )
            for etablissement in targets
        )
    IndicatorValue.objects.bulk_create(values)
    return self_evaluation


@transaction.atomic
def open_self_evaluation(*, contract, campaign: Campaign, acting_user=None, context=None) -> SelfEvaluation:
    """Open a contract's self-evaluation for a campaign: create it if needed, then put it in auto-évaluation.

    Idempotent: a self-evaluation already open (or further along) is returned as it is.
    """
    self_evaluation = SelfEvaluation.objects.filter(contract=contract, campaign=campaign).first()
    if self_evaluation is None:
        self_evaluation = create_self_evaluation(contract=contract, campaign=campaign)
    if self_evaluation.state == State.PRE_CAMPAGNE:
        self_evaluation = transition(
            self_evaluation, to_state=State.AUTO_EVALUATION, acting_user=acting_user, context=context
        )
    return self_evaluation


class OpeningRefused(Exception):
    """« Ouvrir l'auto-évaluation » is not possible for this contract now; the message says why."""


@dataclass(frozen=True)
class Opening:
    """What « Ouvrir l'auto-évaluation » did for one contract: `changed` is False when it was already done."""

    self_evaluation: SelfEvaluation
    changed: bool
    message: str


NOT_ALLOWED_TO_OPEN = (
    "Seuls les agents ARS de la région de l'entité juridique ouvrent les auto-évaluations de ses contrats."
)


@transaction.atomic
def open_current_self_evaluation(
    contract, *, acting_user, context: RequestContext | None = None, today=None
) -> Opening:
    """« Ouvrir l'auto-évaluation » of one contract in its current campaign (evaluation/current_campaign.py),
    by an agent who holds `open` on contracts in the EJ's region.

    During the campaign's pré-campagne the self-evaluation is created in « Pré-campagne » (the establishment
    validates its identification data, and does not write yet); once the auto-évaluation has opened it is
    created if needed and put in « Auto-Evaluation » by `open_self_evaluation`, what a bulk opening of the
    campaign calls for each contract. Idempotent. The contract row is locked, so that two openings of one
    contract queue up instead of both creating. OpeningRefused: nothing was written, the message says why.
    """
    today = today or timezone.localdate()
    locked = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("ej__region", "contract_type")
        .get(pk=contract.pk)
    )
    if not may(acting_user, "contracts.contract", "open", ej=locked.ej):
        raise PermissionDenied(NOT_ALLOWED_TO_OPEN)
    if locked.status != ContractStatus.SIGNE:
        raise OpeningRefused(
            f"Le contrat n'est pas signé (statut « {locked.get_status_display()} ») : seuls les contrats signés "
            "sont évalués."
        )
    situation = current_campaign.situation_of(locked, today)
    campaign = situation.current
    if campaign is None:
        raise OpeningRefused(situation.no_current_reason())
    name = f"la campagne « {campaign.name} »"
    opening_day = f"{campaign.self_assessment_start:%d/%m/%Y}"
    existing = SelfEvaluation.objects.filter(contract=locked, campaign=campaign).select_related("campaign").first()
    if existing is None and not locked.etablissements.exists() and _asks_each_etablissement(campaign, locked):
        # The questions asked of each ET would have no line, and adding the ET later would not give them one.
        raise OpeningRefused(
            f"Aucun établissement n'est rattaché au contrat, alors que {name} pose des questions par "
            "établissement : rattachez-lui ses établissements, puis ouvrez l'auto-évaluation."
        )
    if current_campaign.in_precampaign(campaign, today):
        if existing is not None:
            return Opening(
                existing,
                False,
                f"Auto-évaluation déjà créée dans {name} (état « {existing.get_state_display()} ») : rien n'a changé.",
            )
        created = create_self_evaluation(contract=locked, campaign=campaign)
        record_event(
            EventType.STATE_CHANGED,
            actor=acting_user,
            ej=locked.ej,
            target=created,
            data={"from": "", "to": State.PRE_CAMPAGNE, "reason": "", "campaign": campaign.code},
            context=context,
        )
        return Opening(
            created,
            True,
            f"Auto-évaluation créée dans {name}, à l'état « Pré-campagne » : la saisie ne s'ouvre que le "
            f"{opening_day}. Ce jour-là, relancez « Ouvrir l'auto-évaluation » pour ce contrat.",
        )
    if existing is not None and existing.state != State.PRE_CAMPAGNE:
        return Opening(
            existing,
            False,
            f"Auto-évaluation déjà ouverte dans {name} (état « {existing.get_state_display()} ») : rien n'a changé.",
        )
    opened = open_self_evaluation(contract=locked, campaign=campaign, acting_user=acting_user, context=context)
    opened.campaign = campaign
    return Opening(
        opened,
        True,
        f"Auto-évaluation ouverte dans {name} : l'établissement peut saisir jusqu'au {opened.deadline:%d/%m/%Y}.",
    )


def _asks_each_etablissement(campaign: Campaign, contract) -> bool:
    indicators = Node.objects.indicators().filter(referential_id=campaign.referential_id)
    return indicators.for_region(contract.ej.region_id).filter(answer_level=AnswerLevel.ET).exists()


class ClosureRefused(Exception):
    """« Clore la saisie » is not possible now; the message says why."""


def close_self_evaluation(
    self_evaluation: SelfEvaluation, *, acting_user, today=None, context: RequestContext | None = None
):
    """« Clore la saisie »: by a signataire, while the self-evaluation is open, once nothing is missing.

    The row is locked first, so that no save can slip in between the check and the closure. In the same
    transaction the closure is receipted: the « attestation de clôture » (PDF, with the SHA-256 of the
    answers) is stored on the self-evaluation, and e-mailed after the commit to the EJ's signataires and
    the contract's ARS contact. If the receipt cannot be made or stored, nothing is closed. A refusal
    (ClosureRefused) changes nothing and is audited.
    """
    try:
        return _close(self_evaluation, acting_user=acting_user, today=today, context=context)
    except ClosureRefused as refusal:
        record_refused_write(
            self_evaluation,
            acting_user=acting_user,
            target=self_evaluation,
            data={"action": "close", "state": self_evaluation.state, "reason": str(refusal)},
            context=context,
        )
        raise


@transaction.atomic
def _close(self_evaluation: SelfEvaluation, *, acting_user, today, context) -> SelfEvaluation:
    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=self_evaluation.pk)
    )
    can = abilities_for(locked, acting_user, today=today)
    if not can.close:
        raise ClosureRefused(
            "Vous ne pouvez pas clore cette auto-évaluation : elle n'est pas ouverte à la saisie "
            "ou vous n'en êtes pas signataire."
        )
    # Every write of the establishment waits for this lock: the answers read here are those closed.
    tree = build_tree(locked, can=can)
    missing = tree.missing
    if missing:
        raise ClosureRefused(f"Il reste {len(missing)} question{'s' if len(missing) > 1 else ''} à saisir.")
    closed = transition(locked, to_state=State.CLOTUREE, acting_user=acting_user, context=context)
    _issue_closure_receipt(closed, tree=tree, acting_user=acting_user)
    return closed


OVERDUE_REASON = "Clôturée d'office : la date limite de saisie du {deadline:%d/%m/%Y} est passée."


@transaction.atomic
def close_overdue(self_evaluation_id: int, *, today, members) -> SelfEvaluation | None:
    """« Clôturée d'office »: the deadline (this EJ's extension included) has passed and the self-evaluation is still
    in « Auto-Evaluation »: close it, with the reason in its transition and an attestation de clôture e-mailed to
    `members` (the EJ's) and the ARS contact. None, and nothing written, when it no longer applies (closed by a
    signataire meanwhile, or given an extension): the row is locked and checked again first."""
    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=self_evaluation_id)
    )
    if locked.state != State.AUTO_EVALUATION or locked.deadline >= today:
        return None
    tree = build_tree(locked)
    closed = transition(
        locked,
        to_state=State.CLOTUREE,
        acting_user=None,
        reason=OVERDUE_REASON.format(deadline=locked.deadline),
    )
    _issue_closure_receipt(closed, tree=tree, acting_user=None, recipients=members)
    return closed


class ReceiptNotStored(Exception):
    """The attestation de clôture could not be stored intact: the closure does not happen."""


def _issue_closure_receipt(closed: SelfEvaluation, *, tree, acting_user, recipients=None):
    """Render, store and send the attestation de clôture of `closed` (locked, just closed): to the EJ's signataires,
    or to the users `recipients`, and to the contract's ARS contact."""
    import contextlib
    import hashlib

    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.urls import reverse

    from contracts.models import Membership
    from ecars.emails import send_templated_email
    from evaluation import receipts
    from evaluation.models import ClosureReceipt

    digest = receipts.answers_digest(closed)
    pdf = receipts.render_receipt_pdf(
        closed, closed_by=acting_user, closed_at=closed.closed_at, tree=tree, digest=digest
    )
    receipt = ClosureReceipt(
        self_evaluation=closed,
        answers_sha256=digest,
        file_sha256=hashlib.sha256(pdf).hexdigest(),
        closed_by=acting_user,
        closed_at=closed.closed_at,
        filled=tree.filled,
        total=tree.total,
    )
    filename = receipts.receipt_filename(closed)
    receipt.file.save(filename, ContentFile(pdf), save=False)
    try:
        with receipt.file.open("rb") as stored:
            if hashlib.sha256(stored.read()).hexdigest() != receipt.file_sha256:
                raise ReceiptNotStored("L'attestation de clôture n'a pas été enregistrée intacte.")
        receipt.save()

        contract = closed.contract
        if recipients is None:
            recipients = set(
                Membership.objects.signataires()
                .filter(ej=contract.ej, user__is_active=True)
                .values_list("user__email", flat=True)
            )
        else:
            recipients = {user.email for user in recipients}
        if contract.ars_contact is not None and contract.ars_contact.is_active:
            recipients.add(contract.ars_contact.email)
        recipients.discard("")
        if recipients:
            context = receipts.receipt_context(
                closed, closed_by=acting_user, closed_at=closed.closed_at, tree=tree, digest=digest
            )
            del context["answers"]
            contract_path = reverse("contracts:contract_detail", args=[contract.public_id])
            context["contract_url"] = settings.SITE_URL + contract_path
            send_templated_email(
                "evaluation/email/closure_receipt",
                to=sorted(recipients),
                context=context,
                attachments=[(filename, pdf, "application/pdf")],
            )
    except BaseException:
        # The transaction rolls back: leave no orphan file behind (best effort).
        with contextlib.suppress(Exception):
            receipt.file.storage.delete(receipt.file.name)
        raise
    return receipt


class WriteRefused(Exception):
    """The self-evaluation is not open to this user's writing now (closed, calendar, role), or the question is
    not theirs to answer."""


# Who answers the questions the establishment does not (`FilledBy`), as the refusals name them.
_FILLED_BY_WHOM = {"ars": "l'ARS", "am": "l'Assurance Maladie", "omedit": "l'OMEDIT"}


def filled_elsewhere(indicator: Node) -> str:
    """« Cette question est renseignée par l'ARS, non par l'établissement »: the start of the refusals of a
    write on a question that `Abilities.edit` keeps from the establishment (a grey dot)."""
    whom = _FILLED_BY_WHOM.get(indicator.filled_by, indicator.get_filled_by_display())
    return f"Cette question est renseignée par {whom}, non par l'établissement"


class VersionConflict(Exception):
    """Someone saved the question since this user opened it; `current` is what is stored now."""

    def __init__(self, current):
        super().__init__("Cette question a été modifiée entre-temps.")
        self.current = current


# The fields of an answer that users write, in the order of the form.
ANSWER_FIELDS = ("value", "not_applicable", "not_applicable_reason", "comment")

NOT_OPEN_TO_YOU = (
    "Cette auto-évaluation n'est pas ouverte à votre saisie : elle est close, hors calendrier, "
    "ou votre rôle ne permet que la consultation."
)


@transaction.atomic
def record_refused_write(
    self_evaluation: SelfEvaluation, *, acting_user, target, data: dict, context: RequestContext | None = None
) -> None:
    """Audit a write refused to `acting_user` on `self_evaluation`: `data` says what was refused and why.

    Every refusal of a write of the establishment is audited here (answers, the workbook, the closure). Call
    it once the refused write's transaction is rolled back, so that the row is kept.
    """
    record_event(
        EventType.WRITE_REFUSED,
        actor=acting_user,
        ej=self_evaluation.contract.ej,
        target=target,
        data=data,
        context=context,
    )


def _lock_for_writing(self_evaluation_id: int, *, acting_user) -> tuple[SelfEvaluation, Abilities]:
    """The self-evaluation row, locked, and this user's abilities on it; WriteRefused unless they may write."""
    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=self_evaluation_id)
    )
    can = abilities_for(locked, acting_user)
    if not can.write:
        raise WriteRefused(NOT_OPEN_TO_YOU)
    return locked, can


def lock_for_writing(self_evaluation_id: int, *, acting_user) -> SelfEvaluation:
    """Lock the self-evaluation row and check that this user may write now.

    Every write of the establishment takes this lock, and so does the closure: a save either
    lands before the closure (and is in its receipt) or sees the closed state and is refused.
    """
    return _lock_for_writing(self_evaluation_id, acting_user=acting_user)[0]


def lock_for_editing(value: IndicatorValue, *, acting_user, refusal: str) -> SelfEvaluation:
    """`lock_for_writing`, and the question's own rule (`Abilities.edit`): WriteRefused with `refusal` after
    `filled_elsewhere(…)` when the establishment does not answer `value` (its indicator loaded)."""
    locked, can = _lock_for_writing(value.self_evaluation_id, acting_user=acting_user)
    if not can.edit(value):
        raise WriteRefused(f"{filled_elsewhere(value.indicator)} : {refusal}")
    return locked


def save_answer(
    value: IndicatorValue,
    *,
    acting_user,
    expected_version: int,
    answer: dict,
    context: RequestContext | None = None,
    locked: bool = False,
):
    """Save an answer (keys of ANSWER_FIELDS, already validated) if nobody saved it in between.

    Optimistic locking: the save applies to the version the user saw, or raises VersionConflict and
    changes nothing. A save that changes nothing writes nothing. Each change is appended to the
    history and audited; a refusal (WriteRefused: `Abilities.edit`) changes nothing and is audited.

    With `locked`, the caller has read `value` and its self-evaluation with `select_for_update()` in its own
    transaction (the question page's POST: `evaluation.views.common`), the indicator and the self-evaluation's
    campaign and EJ loaded: they are not read again, and the writes join the caller's transaction.
    """
    try:
        if locked:
            return _save_locked_answer(
                value, acting_user=acting_user, expected_version=expected_version, answer=answer, context=context
            )
        return _save_answer(
            value, acting_user=acting_user, expected_version=expected_version, answer=answer, context=context
        )
    except WriteRefused as refusal:
        record_refused_write(
            value.self_evaluation,
            acting_user=acting_user,
            target=value,
            data={"code": value.indicator.code, "reason": str(refusal)},
            context=context,
        )
        raise


@transaction.atomic
def _save_answer(value: IndicatorValue, *, acting_user, expected_version: int, answer: dict, context):
    locked, can = _lock_for_writing(value.self_evaluation_id, acting_user=acting_user)
    current = IndicatorValue.objects.select_for_update(of=("self",)).select_related("indicator").get(pk=value.pk)
    current.self_evaluation = locked  # already loaded: the audit's description needs no query
    if not can.edit(current):
        raise WriteRefused("Cette question n'est pas renseignée par l'établissement.")
    return write_answer(
        current, acting_user=acting_user, expected_version=expected_version, answer=answer, context=context
    )


def _save_locked_answer(current: IndicatorValue, *, acting_user, expected_version: int, answer: dict, context):
    """`_save_answer` on rows the caller has locked: every check is made before the first write, so that a
    refusal or a conflict leaves the caller's transaction as it was (no savepoint needed)."""
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("save_answer(locked=True) needs the caller's transaction.")
    can = abilities_for(current.self_evaluation, acting_user)
    if not can.write:
        raise WriteRefused(NOT_OPEN_TO_YOU)
    if not can.edit(current):
        raise WriteRefused("Cette question n'est pas renseignée par l'établissement.")
    return write_answer(
        current, acting_user=acting_user, expected_version=expected_version, answer=answer, context=context
    )


def write_answer(current: IndicatorValue, *, acting_user, expected_version: int, answer: dict, context):
    """Write `answer` on `current` (locked by the caller, its indicator and self-evaluation with its EJ loaded,
    the caller's rule checked): optimistic locking, the history and the audit event. The establishment's save
    and the bodies' answers (evaluation.decisions.fill_for_body) both write through here."""
    from evaluation.models import IndicatorValueHistory

    locked = current.self_evaluation
    if current.version != expected_version:
        raise VersionConflict(current)
    changes = {
        field: [getattr(current, field), answer[field]]
        for field in ANSWER_FIELDS
        if getattr(current, field) != answer[field]
    }
    if not changes:
        return current
    for field, (_, new) in changes.items():
        setattr(current, field, new)
    current.version += 1
    current.updated_by = acting_user
    current.save(update_fields=[*changes, "version", "updated_by", "updated_at"])
    IndicatorValueHistory.objects.create(
        indicator_value=current, version=current.version, changes=changes, changed_by=acting_user
    )
    record_event(
        EventType.VALUE_SAVED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=current,
        data={"code": current.indicator.code, "version": current.version, "fields": sorted(changes)},
        context=context,
    )
    return current


def _in_scope(self_evaluation: SelfEvaluation, values: list, scope: str) -> list:
    """The questions an assignment of `values` covers: themselves, or with `scope` « objectif » every question
    of their objectives (a question without an objective stands for itself)."""
    parent_ids = {value.indicator.parent_id for value in values if value.indicator.parent_id}
    if scope != AssignmentScope.OBJECTIF or not parent_ids:
        return values
    siblings = IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__parent_id__in=parent_ids)
    return [value for value in values if not value.indicator.parent_id] + list(
        siblings.select_related("indicator", "etablissement")
    )


def assign_questions(
    values: list,
    *,
    assignee,
    acting_user,
    scope: str = AssignmentScope.QUESTION,
    context: RequestContext | None = None,
) -> int:
    """« Confier » questions to a colleague of the EJ (or to nobody), by a signataire, while writing is open:
    `values`, or with `scope` « objectif » every question of their objectives.

    Only the questions the establishment answers are confided (`Abilities.edit`): one of `values` that it does
    not answer refuses the whole request (WriteRefused, audited, nothing assigned), while the other questions
    of an objective (filled by the ARS, the AM or the OMEDIT) are left out of it. Returns how many questions
    were confided. The colleague is told by e-mail which questions are now theirs.
    """
    try:
        return _assign_questions(values, assignee=assignee, acting_user=acting_user, scope=scope, context=context)
    except WriteRefused as refusal:
        codes = [value.indicator.code for value in values]
        data = {"action": "assign", "scope": scope, "codes": codes, "reason": str(refusal)}
        if len(values) == 1:
            data["code"] = codes[0]
        record_refused_write(
            values[0].self_evaluation,
            acting_user=acting_user,
            target=values[0] if len(values) == 1 else values[0].self_evaluation,
            data=data,
            context=context,
        )
        raise


@transaction.atomic
def _assign_questions(values: list, *, assignee, acting_user, scope: str, context) -> int:
    from ecars.emails import send_templated_email

    if not values:
        return 0
    locked, can = _lock_for_writing(values[0].self_evaluation_id, acting_user=acting_user)
    if not can.assign:
        raise WriteRefused("Seul un signataire peut confier des questions.")
    refused = next((value for value in values if not can.edit(value)), None)
    if refused is not None:
        raise WriteRefused(f"{filled_elsewhere(refused.indicator)} : elle ne peut pas être confiée à un collègue.")
    # An objective may mix questions: those that others answer stay out of the colleague's list.
    values = [value for value in _in_scope(locked, values, scope) if can.edit(value)]
    updated = IndicatorValue.objects.filter(pk__in=[value.pk for value in values]).update(assigned_to=assignee)
    record_event(
        EventType.QUESTIONS_ASSIGNED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={"codes": [value.indicator.code for value in values], "to": assignee.email if assignee else None},
        context=context,
    )
    if assignee is not None and assignee != acting_user:
        send_templated_email(
            "evaluation/email/questions_assigned",
            to=[assignee.email],
            context={
                "assignee": assignee,
                "acting_user": acting_user,
                "contract": locked.contract,
                "campaign": locked.campaign,
                "questions": [question_label(value.indicator, value.etablissement) for value in values],
                "url": settings.SITE_URL
                + reverse("evaluation:indicators", args=[locked.public_id])
                + "?mes-questions=1",
            },
        )
    return updated
