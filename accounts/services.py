"""Writes on accounts: passwords, address changes, sessions. Views, admin and signals share them."""

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.contrib.auth import update_session_auth_hash
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.enums import EventType
from audit.services import record_event
from ecars.lib.http import client_ip


def end_other_sessions(user: User, *, keep_session_key: str | None = None) -> int:
    """End every session of `user` but the one kept: they are signed out at their next request."""
    ended = 0
    for user_session in UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or ""):
        user_session.end()
        ended += 1
    return ended


@transaction.atomic
def password_was_changed(user: User, *, request=None, event=EventType.PASSWORD_CHANGED) -> None:
    """What follows any new password (change, reset, renewal, invitation): the temporary password is
    gone, the date is kept, the user's other sessions end, and it is audited."""
    user.password_must_change = False
    user.temporary_password_expires_at = None
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password_must_change", "temporary_password_expires_at", "password_changed_at"])
    keep = request.session.session_key if request is not None and request.user == user else None
    end_other_sessions(user, keep_session_key=keep)
    record_event(event, actor=user, ip_address=client_ip(request) if request else None)


@transaction.atomic
def renew_temporary_password(request, user: User, password: str) -> None:
    """The first login: replace the temporary password by the user's own, and stay signed in."""
    user.set_password(password)
    user.save(update_fields=["password"])
    update_session_auth_hash(request, user)
    password_was_changed(user, request=request, event=EventType.PASSWORD_CHANGED)
    get_adapter(request).send_notification_mail("account/email/password_changed", user)


@transaction.atomic
def change_email(request, user: User, new_email: str) -> None:
    """Replace the user's address (already verified by a code sent to it) and warn the old one."""
    old_email = user.email
    user.email = new_email
    user.save(update_fields=["email"])
    EmailAddress.objects.filter(user=user).delete()
    EmailAddress.objects.create(user=user, email=new_email, verified=True, primary=True)
    record_event(
        EventType.EMAIL_CHANGED,
        actor=user,
        ip_address=client_ip(request),
        data={"from": old_email, "to": new_email},
    )
    get_adapter(request).send_notification_mail(
        "account/email/email_changed", user, context={"from_email": old_email, "to_email": new_email}, email=old_email
    )


@transaction.atomic
def end_session(request, user: User, user_session: UserSession) -> None:
    """« Terminer » a session of the user's from « Mon compte »."""
    user_session.end()
    record_event(
        EventType.SESSION_ENDED,
        actor=user,
        ip_address=client_ip(request),
        data={"ip": user_session.ip, "user_agent": user_session.user_agent[:200]},
    )
