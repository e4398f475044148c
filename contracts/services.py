"""Writes on the members of an EJ (invite a colleague, change a role, remove a member) and on the
identification data of its ET (validated in pré-campagne).

An EJ's member administrator (`Membership.is_admin`) manages its members from « Membres de l'EJ ».
Each write is audited with the EJ, in the same transaction. Access rests on the membership alone:
removing it ends the member's access at their next request. Services take the acting user and the
request's context (`ecars.lib.http.RequestContext`: its IP address and id, for the audit), never the request.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.enums import UserKind
from accounts.invitations import send_invitation
from accounts.models import User
from audit.enums import EventType
from audit.services import record_event
from contracts.enums import MembershipRole
from contracts.forms import BED_FIELDS, SOFTWARE_FIELDS
from contracts.hooks import precampaign
from contracts.models import EntiteJuridique, IdentificationData, Membership
from contracts.perms import can_manage_members, identification_abilities, role_in_ej
from ecars.emails import send_templated_email
from ecars.lib.http import RequestContext


# A member administrator sees the EJ's member list next to the form: « already a member » tells them
# nothing that list does not, so it stays explicit. Which other addresses cannot be added (agency staff,
# deactivated accounts) is not theirs to learn: one neutral answer for all of them.
ALREADY_MEMBER = "Cette adresse est déjà celle d'un membre de cette entité juridique."
CANNOT_BE_ADDED = (
    "Cette adresse ne peut pas être ajoutée aux membres de cette entité juridique. Si vous pensez qu'il "
    "s'agit d'une erreur, contactez votre ARS."
)
CANNOT_REMOVE_SELF = (
    "Vous ne pouvez pas vous retirer vous-même : demandez-le à un autre administrateur des membres ou à votre ARS."
)
LAST_ADMIN = "C'est le dernier administrateur des membres de cette entité juridique : il ne peut pas être retiré."
UNKNOWN_ROLE = "Choisissez un rôle : lecteur, contributeur ou signataire."


class MemberError(Exception):
    """A refused change; its message, in French, is meant for the user."""


def _check_can_manage(ej: EntiteJuridique, acting_user: User) -> None:
    if not can_manage_members(ej, acting_user):
        raise PermissionDenied("Seul un administrateur des membres de l'EJ gère ses membres.")


def _establishment_user(email: str) -> tuple[User, bool]:
    """The account of `email`, created without a password if there is none, and whether it was created."""
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, kind=UserKind.ETABLISSEMENT), True
    except IntegrityError:
        # Created meanwhile by a concurrent request.
        return User.objects.get(email__iexact=email), False


@transaction.atomic
def invite_member(
    ej: EntiteJuridique, email: str, role: str, *, acting_user: User, context: RequestContext | None = None
) -> Membership:
    """Give the account of `email` access to `ej` with `role`, creating and inviting it if needed.

    A new address gets an account without a password and an invitation to choose one; an account
    that never chose a password gets a fresh invitation; any other account is told by e-mail.
    Agency staff addresses and deactivated accounts are refused with one neutral message, current
    members with their own (MemberError); a refusal stores nothing (the account created meanwhile is
    rolled back with the rest).
    """
    _check_can_manage(ej, acting_user)
    if role not in MembershipRole.values:
        raise MemberError(UNKNOWN_ROLE)
    email = User.objects.normalize_email(email)
    user, created = _establishment_user(email)
    if user.kind != UserKind.ETABLISSEMENT or user.is_staff or user.is_superuser or not user.is_active:
        raise MemberError(CANNOT_BE_ADDED)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=user, ej=ej, role=role)
    except IntegrityError:
        raise MemberError(ALREADY_MEMBER) from None
    needs_invitation = created or not (user.has_usable_password() or user.password_must_change)
    record_event(
        EventType.MEMBER_ADDED,
        actor=acting_user,
        ej=ej,
        target=user,
        data={"email": user.email, "role": role, "invited": needs_invitation},
        context=context,
    )
    if needs_invitation:
        send_invitation(user, acting_user=acting_user, context=context, ej=ej)
    else:
        send_templated_email(
            "contracts/email/member_added",
            to=[user.email],
            context={
                "user": user,
                "ej": ej,
                "role": membership.get_role_display(),
                "inviter": acting_user,
                "login_url": settings.SITE_URL + reverse("account_login"),
            },
        )
    return membership


@transaction.atomic
def change_member_role(
    membership: Membership, role: str, *, acting_user: User, context: RequestContext | None = None
) -> Membership:
    """Give a member another role (lecteur, contributeur, signataire); the same role changes nothing."""
    membership = Membership.objects.select_for_update(of=("self",)).select_related("ej", "user").get(pk=membership.pk)
    _check_can_manage(membership.ej, acting_user)
    if role not in MembershipRole.values:
        raise MemberError(UNKNOWN_ROLE)
    if role == membership.role:
        return membership
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    record_event(
        EventType.MEMBER_ROLE_CHANGED,
        actor=acting_user,
        ej=membership.ej,
        target=membership.user,
        data={"email": membership.user.email, "from": old_role, "to": role},
        context=context,
    )
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, acting_user: User, context: RequestContext | None = None) -> None:
    """Delete a membership: the member loses access to the EJ at their next request.

    A member administrator cannot remove themselves, and the EJ keeps at least one administrator.
    """
    ej = membership.ej
    # Lock the EJ's administrators first, in a fixed order, so that two administrators removing
    # each other at the same moment cannot leave the EJ without any.
    admin_ids = list(
        Membership.objects.select_for_update().filter(ej=ej, is_admin=True).order_by("pk").values_list("pk", flat=True)
    )
    _check_can_manage(ej, acting_user)
    membership = (
        Membership.objects.select_for_update(of=("self",)).select_related("user").filter(pk=membership.pk).first()
    )
    if membership is None:
        return
    if membership.user_id == acting_user.pk:
        raise MemberError(CANNOT_REMOVE_SELF)
    if membership.is_admin and set(admin_ids) == {membership.pk}:
        raise MemberError(LAST_ADMIN)
    user, role = membership.user, membership.role
    membership.delete()
    record_event(
        EventType.MEMBER_REMOVED,
        actor=acting_user,
        ej=ej,
        target=user,
        data={"email": user.email, "role": role},
        context=context,
    )


IDENTIFICATION_FIELDS = (*BED_FIELDS, *SOFTWARE_FIELDS)


def _check_can_validate_identification(identification: IdentificationData, acting_user: User) -> None:
    """The rule of `contracts.perms.identification_abilities`, for the pré-campagne of the current campaign of
    any contract covering the ET, if that campaign is of the data's year: the view checks it first; this
    guards the other callers."""
    etablissement = identification.etablissement
    role = role_in_ej(acting_user, etablissement.ej_id)
    today = timezone.localdate()
    windows = (precampaign.first(contract, today) for contract in etablissement.contracts.all())
    if not any(
        identification_abilities(window, role=role, today=today).validate
        for window in windows
        if window is not None and window.year == identification.year
    ):
        raise PermissionDenied("Seul un signataire de l'EJ valide ces données, pendant la pré-campagne.")


@transaction.atomic
def validate_identification(
    identification: IdentificationData, data: dict, *, acting_user: User, context: RequestContext | None = None
) -> IdentificationData:
    """Save an ET's identification data of one year as validated by `acting_user`, and audit it.

    `identification` names the ET and the year (it may be unsaved); `data` holds the cleaned values of
    `IdentificationForm` (other keys are ignored). The event records the changed fields, old → new;
    a validation without change is recorded too, with no changes.
    """
    _check_can_validate_identification(identification, acting_user)
    # Compare with the stored row, locked, not with `identification`, which the form may have modified.
    current, _ = IdentificationData.objects.select_for_update(of=("self",)).get_or_create(
        etablissement=identification.etablissement, year=identification.year
    )
    changes = {}
    for field in IDENTIFICATION_FIELDS:
        if field not in data:
            continue
        old, new = getattr(current, field), data[field]
        if old != new:
            changes[field] = [old, new]
            setattr(current, field, new)
    current.validated_at = timezone.now()
    current.validated_by = acting_user
    current.save(update_fields=[*changes, "validated_at", "validated_by", "updated_at"])
    record_event(
        EventType.IDENTIFICATION_VALIDATED,
        actor=acting_user,
        ej=identification.etablissement.ej,
        target=current,
        data={"year": current.year, "changes": changes},
        context=context,
    )
    return current
