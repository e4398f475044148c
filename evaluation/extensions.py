"""Exceptions to the calendar of a self-evaluation: extension requests, their decision, and reopening.

The calendar rule itself is `SelfEvaluation.is_open_on` (through `evaluation.perms.Abilities`, checked
by every write): the establishment writes from the opening of the auto-évaluation to its deadline, or
to the date of the extension the ARS granted this EJ (`SelfEvaluation.extended_until`).

- A contributeur or signataire of the EJ asks for an extension, with a reason, during the
  auto-évaluation; one request at a time waits for a decision.
- Agency staff of the EJ's region grant it (up to the requested date, or another one) or refuse it
  with a reason, from the admin.
- Agency staff of the region reopen a closed self-evaluation with a reason (a transition
  « clôturée → auto-évaluation », logged by `evaluation.services.transition`), optionally granting an
  extension at the same time: once the deadline has passed, a reopened self-evaluation is writable
  only with one.

Each write is audited in its transaction, with the request's context (`ecars.lib.http.RequestContext`) when
a request asked for it; e-mails leave after the commit.
"""

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.models import Membership
from contracts.perms import may, role_in_ej
from ecars.emails import send_templated_email
from ecars.lib.http import RequestContext
from evaluation import services
from evaluation.enums import ExtensionStatus
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import ExtensionRequest, SelfEvaluation
from evaluation.perms import WRITER_ROLES


class ExtensionRules:
    # An establishment may ask for at most this many days after its current deadline.
    MAX_DAYS = 60
    MIN_REASON_LENGTH = 10


# Those who write ask for the time to write.
REQUESTER_ROLES = WRITER_ROLES

NOT_A_CONTRIBUTOR = (
    "Seuls les contributeurs et les signataires de l'entité juridique peuvent demander une prolongation : "
    "votre rôle ne permet que la consultation."
)
NOT_AGENCY_STAFF = (
    "Seuls les agents de la région de l'entité juridique décident des prolongations et des réouvertures."
)
DECISION_REASON_REQUIRED = "Indiquez le motif du refus : il est communiqué à l'établissement."
REOPEN_REASON_REQUIRED = "Indiquez le motif de la réouverture : il est communiqué à l'établissement."


class ExtensionRefused(Exception):
    """A refused request, decision or reopening. The message, in French, is meant for the user;
    `field` names the form field it is about (None for the whole request)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def _day(date: datetime.date) -> str:
    return f"{date:%d/%m/%Y}"


def _lock(self_evaluation_id: int) -> SelfEvaluation:
    """The self-evaluation row, locked: requests, decisions, reopenings and saves are serialised on it."""
    return (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej__region", "contract__ars_contact")
        .get(pk=self_evaluation_id)
    )


# --- Who may do what ----------------------------------------------------------------------------


def pending_request(self_evaluation: SelfEvaluation) -> ExtensionRequest | None:
    return self_evaluation.extension_requests.filter(status=ExtensionStatus.EN_ATTENTE).first()


def request_refusal(self_evaluation: SelfEvaluation, user) -> str | None:
    """Why `user` may not ask for an extension of `self_evaluation` now, or None if they may."""
    role = role_in_ej(user, self_evaluation.contract.ej)
    return _request_refusal(self_evaluation, role=role, pending=lambda: pending_request(self_evaluation))


def may_request(self_evaluation: SelfEvaluation, *, role: str | None, last_request: ExtensionRequest | None) -> bool:
    """Whether a user of `role` in the EJ may ask for an extension now (the rule of `request_refusal`), for a
    page that has loaded the role and the latest request already: the pending request, if any, is the latest
    one, since one waits at a time."""
    pending = last_request if last_request and last_request.status == ExtensionStatus.EN_ATTENTE else None
    return _request_refusal(self_evaluation, role=role, pending=lambda: pending) is None


def _request_refusal(self_evaluation: SelfEvaluation, *, role: str | None, pending) -> str | None:
    """The rule of both: `pending()` gives the request waiting for a decision; it is called last, as it
    may cost a query."""
    if role not in REQUESTER_ROLES:
        return NOT_A_CONTRIBUTOR
    if self_evaluation.state != State.AUTO_EVALUATION:
        return (
            "Une prolongation ne se demande que pendant l'auto-évaluation : cette auto-évaluation est à l'état "
            f"« {self_evaluation.get_state_display()} »."
        )
    waiting = pending()
    if waiting is not None:
        return (
            f"Une demande de prolongation jusqu'au {_day(waiting.requested_until)} est déjà en attente de la "
            "décision de l'ARS : vous ne pouvez pas en envoyer une autre avant cette décision."
        )
    return None


def request_field_errors(
    self_evaluation: SelfEvaluation,
    *,
    requested_until: datetime.date | None,
    reason: str | None,
    today: datetime.date,
) -> list[tuple[str, str]]:
    """The errors of a request's date and reason, as (field, message): the date must be after the current
    deadline, at most MAX_DAYS days after it and not past; the reason must say something. A value left out
    (None) is not checked."""
    errors = []
    deadline = self_evaluation.deadline
    latest = deadline + datetime.timedelta(days=ExtensionRules.MAX_DAYS)
    if requested_until is None:
        pass
    elif requested_until <= deadline:
        errors.append(
            (
                "requested_until",
                f"La date demandée doit être postérieure à la date limite actuelle, le {_day(deadline)}.",
            )
        )
    elif requested_until > latest:
        errors.append(
            (
                "requested_until",
                f"La prolongation ne peut pas dépasser {ExtensionRules.MAX_DAYS} jours après la date limite "
                f"actuelle : le {_day(latest)} au plus tard.",
            )
        )
    elif requested_until < today:
        errors.append(("requested_until", "La date demandée est déjà passée."))
    if reason is not None and len(reason.strip()) < ExtensionRules.MIN_REASON_LENGTH:
        errors.append(
            (
                "reason",
                f"Expliquez le motif de votre demande en {ExtensionRules.MIN_REASON_LENGTH} caractères au moins.",
            )
        )
    return errors


def can_decide(user, self_evaluation: SelfEvaluation, *, verb: str = "decide") -> bool:
    """ARS agents of the EJ's region and national administrators decide on extensions (`decide`) and
    reopen self-evaluations (`reopen`): the privilege table's powers (ecars/privileges.py)."""
    model_label = "evaluation.extensionrequest" if verb == "decide" else "evaluation.selfevaluation"
    return may(user, model_label, verb, ej=self_evaluation.contract.ej)


def _check_can_decide(user, self_evaluation: SelfEvaluation, *, verb: str = "decide") -> None:
    if not can_decide(user, self_evaluation, verb=verb):
        raise PermissionDenied(NOT_AGENCY_STAFF)


def _check_granted_date(self_evaluation: SelfEvaluation, until: datetime.date, *, field: str) -> None:
    deadline = self_evaluation.deadline
    if until <= deadline:
        raise ExtensionRefused(
            f"La date accordée doit être postérieure à la date limite actuelle, le {_day(deadline)}.", field=field
        )
    if until < timezone.localdate():
        raise ExtensionRefused("La date accordée est déjà passée.", field=field)


# --- Services -----------------------------------------------------------------------------------


@transaction.atomic
def request_extension(
    self_evaluation: SelfEvaluation,
    *,
    acting_user,
    requested_until: datetime.date,
    reason: str,
    context: RequestContext | None = None,
) -> ExtensionRequest:
    """Ask the ARS to write until `requested_until`: by a contributeur or signataire of the EJ, during the
    auto-évaluation, one pending request at a time, within MAX_DAYS days after the current deadline and with
    a reason. Audited; the contract's ARS contact (else the region's business contact) is told by e-mail."""
    locked = _lock(self_evaluation.pk)
    refusal = request_refusal(locked, acting_user)
    if refusal is not None:
        raise ExtensionRefused(refusal)
    errors = request_field_errors(locked, requested_until=requested_until, reason=reason, today=timezone.localdate())
    if errors:
        field, message = errors[0]
        raise ExtensionRefused(message, field=field)
    try:
        with transaction.atomic():
            extension_request = ExtensionRequest.objects.create(
                self_evaluation=locked,
                requested_by=acting_user,
                requested_until=requested_until,
                reason=reason.strip(),
            )
    except IntegrityError:
        # The database keeps one pending request per self-evaluation, whatever the path.
        raise ExtensionRefused(request_refusal(locked, acting_user) or "Une demande est déjà en attente.") from None
    record_event(
        EventType.EXTENSION_REQUESTED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=extension_request,
        data={
            "self_evaluation": str(locked.public_id),
            "deadline": locked.deadline.isoformat(),
            "requested_until": requested_until.isoformat(),
            "reason": extension_request.reason,
        },
        context=context,
    )
    _email_requested(extension_request, locked)
    return extension_request


@transaction.atomic
def decide_extension(
    extension_request: ExtensionRequest,
    *,
    acting_user,
    grant: bool,
    decision_reason: str,
    until: datetime.date | None = None,
    context: RequestContext | None = None,
) -> ExtensionRequest:
    """Grant or refuse a pending request: by agency staff of the EJ's region.

    Granting moves this EJ's deadline to `until` (the requested date by default), which must be after the
    current deadline; it needs the self-evaluation in auto-évaluation (reopen a closed one first, or with
    the extension). Refusing needs a reason. Audited; the requester and the EJ's signataires are told.
    """
    locked = _lock(extension_request.self_evaluation_id)
    _check_can_decide(acting_user, locked)
    current = ExtensionRequest.objects.select_for_update(of=("self",)).select_related("requested_by")
    current = current.get(pk=extension_request.pk)
    if current.status != ExtensionStatus.EN_ATTENTE:
        decided_on = _day(timezone.localtime(current.decided_at))
        raise ExtensionRefused(f"Cette demande a déjà été {current.get_status_display()} le {decided_on}.")
    decision_reason = decision_reason.strip()
    if grant:
        if locked.state != State.AUTO_EVALUATION:
            raise ExtensionRefused(
                f"L'auto-évaluation est à l'état « {locked.get_state_display()} » : pour accorder une prolongation "
                "à une auto-évaluation clôturée, utilisez « Rouvrir la saisie » avec une date de prolongation."
            )
        until = until or current.requested_until
        _check_granted_date(locked, until, field="until")
    elif not decision_reason:
        raise ExtensionRefused(DECISION_REASON_REQUIRED, field="decision_reason")
    return _decide(
        locked, current, acting_user=acting_user, grant=grant, until=until, reason=decision_reason, context=context
    )


def _decide(locked, extension_request, *, acting_user, grant, until, reason, context) -> ExtensionRequest:
    """Record the decision on a locked pending request (and the extension if granted)."""
    previous_deadline = locked.deadline
    if grant:
        _extend(locked, until)
    extension_request.status = ExtensionStatus.ACCORDEE if grant else ExtensionStatus.REFUSEE
    extension_request.decided_by = acting_user
    extension_request.decided_at = timezone.now()
    extension_request.decision_reason = reason
    extension_request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _record_decision(
        locked,
        target=extension_request,
        acting_user=acting_user,
        until=until if grant else None,
        requested_until=extension_request.requested_until,
        previous_deadline=previous_deadline,
        reason=reason,
        context=context,
    )
    _email_decided(extension_request, locked)
    return extension_request


def _record_decision(locked, *, target, acting_user, until, requested_until, previous_deadline, reason, context):
    """Audit a decision on the deadline: granted up to `until`, or refused (`until` None)."""
    record_event(
        EventType.EXTENSION_DECIDED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=target,
        data={
            "self_evaluation": str(locked.public_id),
            "granted": until is not None,
            "requested_until": requested_until.isoformat() if requested_until else None,
            "until": until.isoformat() if until else None,
            "previous_deadline": previous_deadline.isoformat(),
            "reason": reason,
        },
        context=context,
    )


def _extend(locked: SelfEvaluation, until: datetime.date) -> None:
    locked.extended_until = until
    locked.save(update_fields=["extended_until", "updated_at"])


@transaction.atomic
def reopen(
    self_evaluation: SelfEvaluation,
    *,
    acting_user,
    reason: str,
    extend_until: datetime.date | None = None,
    context: RequestContext | None = None,
) -> SelfEvaluation:
    """« Rouvrir la saisie »: put a closed self-evaluation back in auto-évaluation, with a reason, by agency
    staff of the EJ's region. The transition is logged and audited by `services.transition`.

    After the deadline the establishment writes only with an extension: `extend_until` grants one at the same
    time (and decides a pending request, if any, as granted). The EJ's signataires are told by e-mail.
    """
    locked = _lock(self_evaluation.pk)
    _check_can_decide(acting_user, locked, verb="reopen")
    reason = reason.strip()
    if not reason:
        raise ExtensionRefused(REOPEN_REASON_REQUIRED, field="reason")
    if locked.state != State.CLOTUREE:
        raise ExtensionRefused(
            f"Seule une auto-évaluation clôturée peut être rouverte : celle-ci est à l'état "
            f"« {locked.get_state_display()} »."
        )
    if extend_until is not None:
        _check_granted_date(locked, extend_until, field="extend_until")
    try:
        services.transition(
            locked, to_state=State.AUTO_EVALUATION, acting_user=acting_user, reason=reason, context=context
        )
    except services.TransitionRefused as refusal:
        raise ExtensionRefused(str(refusal)) from None
    locked.refresh_from_db(fields=["state", "updated_at"])
    if extend_until is not None:
        pending = ExtensionRequest.objects.select_for_update(of=("self",)).filter(
            self_evaluation=locked, status=ExtensionStatus.EN_ATTENTE
        )
        pending = pending.select_related("requested_by").first()
        if pending is not None:
            _decide(
                locked,
                pending,
                acting_user=acting_user,
                grant=True,
                until=extend_until,
                reason=reason,
                context=context,
            )
        else:
            previous_deadline = locked.deadline
            _extend(locked, extend_until)
            _record_decision(
                locked,
                target=locked,
                acting_user=acting_user,
                until=extend_until,
                requested_until=None,
                previous_deadline=previous_deadline,
                reason=reason,
                context=context,
            )
    _email_reopened(locked, reason=reason)
    return locked


# --- E-mails ------------------------------------------------------------------------------------


def _contract_url(self_evaluation: SelfEvaluation) -> str:
    return settings.SITE_URL + reverse("contracts:contract_detail", args=[self_evaluation.contract.public_id])


def _signataire_emails(self_evaluation: SelfEvaluation) -> list[str]:
    memberships = Membership.objects.signataires().filter(ej=self_evaluation.contract.ej, user__is_active=True)
    return list(memberships.order_by("user__email").values_list("user__email", flat=True))


def _send_each(template_prefix: str, recipients, context: dict) -> None:
    """One message per recipient: colleagues never see each other's addresses."""
    for address in dict.fromkeys(address for address in recipients if address):
        send_templated_email(template_prefix, to=[address], context=context)


def _email_requested(extension_request: ExtensionRequest, self_evaluation: SelfEvaluation) -> None:
    contract = self_evaluation.contract
    if contract.ars_contact is not None and contract.ars_contact.is_active:
        recipients = [contract.ars_contact.email]
    else:
        recipients = [contract.ej.region.business_email]
    admin_path = reverse("admin:evaluation_extensionrequest_change", args=[extension_request.pk])
    _send_each(
        "evaluation/email/extension_requested",
        recipients,
        {
            "extension_request": extension_request,
            "self_evaluation": self_evaluation,
            "contract": contract,
            "ej": contract.ej,
            "campaign": self_evaluation.campaign,
            "deadline": self_evaluation.deadline,
            "admin_url": settings.SITE_URL + admin_path,
        },
    )


def _email_decided(extension_request: ExtensionRequest, self_evaluation: SelfEvaluation) -> None:
    requester = extension_request.requested_by
    recipients = [requester.email] if requester.is_active else []
    _send_each(
        "evaluation/email/extension_decided",
        [*recipients, *_signataire_emails(self_evaluation)],
        {
            "extension_request": extension_request,
            "granted": extension_request.status == ExtensionStatus.ACCORDEE,
            "self_evaluation": self_evaluation,
            "contract": self_evaluation.contract,
            "ej": self_evaluation.contract.ej,
            "campaign": self_evaluation.campaign,
            "deadline": self_evaluation.deadline,
            "contract_url": _contract_url(self_evaluation),
        },
    )


def _email_reopened(self_evaluation: SelfEvaluation, *, reason: str) -> None:
    _send_each(
        "evaluation/email/extension_reopened",
        _signataire_emails(self_evaluation),
        {
            "self_evaluation": self_evaluation,
            "contract": self_evaluation.contract,
            "ej": self_evaluation.contract.ej,
            "campaign": self_evaluation.campaign,
            "reason": reason,
            "deadline": self_evaluation.deadline,
            "writable": self_evaluation.is_open_on(timezone.localdate()),
            "contract_url": _contract_url(self_evaluation),
        },
    )
