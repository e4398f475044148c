"""First credentials of an account created by the ARS or by an EJ's member administrator.

Two paths (SECURITY.md A6):
- the invitation, preferred: a single-use link that lets the user choose their password. Only the
  SHA-256 of its token is stored; the token itself exists only in the e-mail;
- the manual's temporary password: random, meeting the password rules, valid 72 hours, and good
  for nothing but choosing a new password at the first login (`PasswordRenewalMiddleware`).
"""

import datetime
import hashlib
import secrets
import string

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, User
from accounts.services import end_other_sessions, password_was_changed
from audit.enums import EventType
from audit.services import record_event
from ecars.emails import send_templated_email
from ecars.lib.http import RequestContext


TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 64
TEMPORARY_PASSWORD_LENGTH = 16
SPECIAL_CHARACTERS = "&-_%!?"


class InvitationNotUsable(Exception):
    """The invitation was used, has expired, or its account was deactivated in the meantime."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_usable_invitation(token: str) -> Invitation | None:
    """The unused, unexpired invitation of an active account that `token` opens, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        Invitation.objects.usable()
        .filter(token_hash=hash_token(token), user__is_active=True)
        .select_related("user")
        .first()
    )


def generate_temporary_password(user: User | None = None) -> str:
    """A random password meeting the manual's rules (12–64 characters, four classes, not common)."""
    alphabet = string.ascii_letters + string.digits + SPECIAL_CHARACTERS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(TEMPORARY_PASSWORD_LENGTH))
        if not (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(c in SPECIAL_CHARACTERS for c in candidate)
        ):
            continue
        try:
            password_validation.validate_password(candidate, user)
        except ValidationError:
            continue
        return candidate


def _expire_pending_invitations(user: User, *, now: datetime.datetime) -> None:
    user.invitations.usable().update(expires_at=now)


@transaction.atomic
def send_invitation(
    user: User, *, acting_user: User | None, context: RequestContext | None = None, ej=None
) -> Invitation:
    """Invite `user` to choose their password through a single-use link, valid INVITATION_VALIDITY_DAYS.

    Earlier unused invitations of the user stop working. `ej`, when given, is the EJ the user was
    invited into (named in the e-mail and the audit event).
    """
    now = timezone.now()
    _expire_pending_invitations(user, now=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = Invitation.objects.create(
        user=user,
        token_hash=hash_token(token),
        created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
        expires_at=now + datetime.timedelta(days=settings.INVITATION_VALIDITY_DAYS),
    )
    record_event(
        EventType.INVITATION_SENT,
        actor=acting_user,
        ej=ej,
        target=user,
        data={"method": "invitation"},
        context=context,
    )
    send_templated_email(
        "accounts/email/invitation",
        to=[user.email],
        context={
            "user": user,
            "inviter": acting_user,
            "ej": ej,
            "invitation_url": settings.SITE_URL + reverse("accounts:accept_invitation_token", args=[token]),
            "expires_at": invitation.expires_at,
        },
        sensitive=True,
    )
    return invitation


@transaction.atomic
def accept_invitation(
    invitation: Invitation, password: str, *, context: RequestContext | None = None, keep_session_key=None
) -> User:
    """Set the password chosen from an invitation and use the invitation up (the view then signs the user in).

    The address is verified by the same token: the link reached it. Raises InvitationNotUsable if
    the invitation was used or expired since it was looked up.
    """
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .usable()
        .filter(pk=invitation.pk, user__is_active=True)
        .select_related("user")
        .first()
    )
    if invitation is None:
        raise InvitationNotUsable
    user = invitation.user
    now = timezone.now()
    user.set_password(password)
    user.save(update_fields=["password"])
    invitation.used_at = now
    invitation.save(update_fields=["used_at"])
    _expire_pending_invitations(user, now=now)
    _mark_email_verified(user)
    password_was_changed(user, context=context, keep_session_key=keep_session_key, event=EventType.INVITATION_ACCEPTED)
    return user


def _mark_email_verified(user: User) -> None:
    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    EmailAddress.objects.filter(user=user, primary=True).exclude(pk=getattr(address, "pk", None)).update(primary=False)
    if address is None:
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    elif not (address.verified and address.primary):
        address.verified = True
        address.primary = True
        address.save(update_fields=["verified", "primary"])


@transaction.atomic
def send_temporary_password(user: User, *, acting_user: User | None, context: RequestContext | None = None) -> None:
    """The manual's path: e-mail a random temporary password, valid TEMPORARY_PASSWORD_VALIDITY_HOURS.

    It must be replaced at the first login; pending invitations and open sessions of the user end.
    """
    now = timezone.now()
    password = generate_temporary_password(user)
    user.set_password(password)
    user.password_must_change = True
    user.temporary_password_expires_at = now + datetime.timedelta(hours=settings.TEMPORARY_PASSWORD_VALIDITY_HOURS)
    user.save(update_fields=["password", "password_must_change", "temporary_password_expires_at"])
    _expire_pending_invitations(user, now=now)
    end_other_sessions(user)
    record_event(
        EventType.INVITATION_SENT,
        actor=acting_user,
        target=user,
        data={"method": "temporary_password"},
        context=context,
    )
    send_templated_email(
        "accounts/email/temporary_password",
        to=[user.email],
        context={
            "user": user,
            "password": password,
            "login_url": settings.SITE_URL + reverse("account_login"),
            "expires_at": user.temporary_password_expires_at,
        },
        sensitive=True,
    )
