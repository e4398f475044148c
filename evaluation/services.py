"""Writes on self-evaluations. Views, admin actions and commands all go through these functions."""

from django.db import transaction
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from evaluation.enums import AnswerLevel
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import Campaign, IndicatorValue, Node, SelfEvaluation, Transition


# The lifecycle of DESIGN.md §4: from each state, the states it may go to.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    State.PRE_CAMPAGNE: frozenset({State.AUTO_EVALUATION}),
    State.AUTO_EVALUATION: frozenset({State.CLOTUREE}),
    # From « clôturée »: the ARS reopens it (with a reason) or starts evaluating.
    State.CLOTUREE: frozenset({State.AUTO_EVALUATION, State.EN_EVALUATION}),
    State.EN_EVALUATION: frozenset({State.RAPPORT_ENVOYE}),
    State.RAPPORT_ENVOYE: frozenset({State.CONTRADICTOIRE, State.DEFINITIVE}),
    State.CONTRADICTOIRE: frozenset({State.EN_EVALUATION, State.DEFINITIVE}),
    State.DEFINITIVE: frozenset(),
}

# Transitions that undo someone's work or deviate from the calendar must say why.
_REASON_REQUIRED = {(State.CLOTUREE, State.AUTO_EVALUATION)}


class TransitionRefused(Exception):
    """The requested change of state is not allowed; the message is shown to the user."""


@transaction.atomic
def transition(
    self_evaluation: SelfEvaluation, *, to_state: str, acting_user, reason: str = "", ip_address=None
) -> SelfEvaluation:
    """Move a self-evaluation to `to_state` if its current state allows it.

    The row is locked first, so that concurrent transitions and saves are serialised, and the
    source state is checked on the locked row, not on the caller's copy. Writes the transition
    log and an audit event in the same transaction.
    """
    locked = SelfEvaluation.objects.select_for_update().select_related("contract__ej").get(pk=self_evaluation.pk)
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
        ip_address=ip_address,
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
    for indicator in Node.objects.indicators().filter(referential_id=campaign.referential_id):
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


class ClosureRefused(Exception):
    """« Clore la saisie » is not possible now; the message says why."""


@transaction.atomic
def close_self_evaluation(self_evaluation: SelfEvaluation, *, acting_user, today=None, ip_address=None):
    """« Clore la saisie »: by a signataire, while the self-evaluation is open, once nothing is missing.

    The row is locked first, so that no save can slip in between the check and the closure.
    """
    from evaluation.perms import abilities, role_in_ej
    from evaluation.tree import build_tree

    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=self_evaluation.pk)
    )
    can = abilities(locked, role=role_in_ej(acting_user, locked.contract.ej), today=today or timezone.localdate())
    if not can.close:
        raise ClosureRefused(
            "Vous ne pouvez pas clore cette auto-évaluation : elle n'est pas ouverte à la saisie "
            "ou vous n'en êtes pas signataire."
        )
    missing = build_tree(locked, can_write=True).missing
    if missing:
        raise ClosureRefused(f"Il reste {len(missing)} question{'s' if len(missing) > 1 else ''} à saisir.")
    return transition(locked, to_state=State.CLOTUREE, acting_user=acting_user, ip_address=ip_address)


class WriteRefused(Exception):
    """The self-evaluation is not open to this user's writing now (closed, calendar, role)."""


class VersionConflict(Exception):
    """Someone saved the question since this user opened it; `current` is what is stored now."""

    def __init__(self, current):
        super().__init__("Cette question a été modifiée entre-temps.")
        self.current = current


# The fields of an answer that users write, in the order of the form.
ANSWER_FIELDS = ("value", "not_applicable", "not_applicable_reason", "comment")


def lock_for_writing(self_evaluation_id: int, *, acting_user) -> SelfEvaluation:
    """Lock the self-evaluation row and check that this user may write now.

    Every write of the establishment takes this lock, and so does the closure: a save either
    lands before the closure (and is in its receipt) or sees the closed state and is refused.
    """
    from evaluation.perms import abilities, role_in_ej

    locked = (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=self_evaluation_id)
    )
    if not abilities(locked, role=role_in_ej(acting_user, locked.contract.ej)).write:
        raise WriteRefused(
            "Cette auto-évaluation n'est pas ouverte à votre saisie : elle est close, hors calendrier, "
            "ou votre rôle ne permet que la consultation."
        )
    return locked


@transaction.atomic
def save_answer(value: IndicatorValue, *, acting_user, expected_version: int, answer: dict, ip_address=None):
    """Save an answer (keys of ANSWER_FIELDS, already validated) if nobody saved it in between.

    Optimistic locking: the save applies to the version the user saw, or raises VersionConflict and
    changes nothing. A save that changes nothing writes nothing. Each change is appended to the
    history and audited.
    """
    from evaluation.models import IndicatorValueHistory

    locked = lock_for_writing(value.self_evaluation_id, acting_user=acting_user)
    current = IndicatorValue.objects.select_for_update(of=("self",)).select_related("indicator").get(pk=value.pk)
    if current.indicator.filled_by != "etablissement":
        raise WriteRefused("Cette question n'est pas renseignée par l'établissement.")
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
        ip_address=ip_address,
    )
    return current
