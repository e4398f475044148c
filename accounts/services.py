"""Writes on accounts: creation and changes by staff, passwords, address changes, sessions, the login
rule. Views, admin and signals share them."""

import datetime

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import LoginPolicy, User
from accounts.perms import may_manage_account
from audit.enums import EventType
from audit.services import record_event
from ecars.lib.http import RequestContext


def notify(template_prefix: str, user: User, *, context: RequestContext | None, email=None, **extra) -> None:
    """Tell a user, by e-mail, of a change to their account: when, from which address and browser."""
    context = context or RequestContext.none()
    get_adapter().send_mail(
        template_prefix,
        email or user.email,
        {
            "user": user,
            "timestamp": timezone.now(),
            "ip": context.ip_address,
            "user_agent": context.user_agent,
            **extra,
        },
    )


def _tell_the_old_address(user: User, old_email: str, *, context: RequestContext | None) -> None:
    """« L'adresse de messagerie de votre compte est passée de … à … », sent to the address it left."""
    notify(
        "account/email/email_changed",
        user,
        context=context,
        email=old_email,
        from_email=old_email,
        to_email=user.email,
    )


def sync_email_address(user: User) -> None:
    """Keep exactly one allauth address row per account: its primary address, `user.email`.

    allauth signs in, sends renewal codes and lifts the login lockout through these rows: an account
    without one stays locked out after a renewal (issue 9), and a row left with an old address would
    still receive codes after an agent corrected it.
    """
    rows = list(EmailAddress.objects.filter(user=user))
    if len(rows) == 1 and rows[0].email == user.email and rows[0].primary:
        return
    kept = next((row for row in rows if row.email.lower() == user.email.lower()), None)
    EmailAddress.objects.filter(user=user).exclude(pk=getattr(kept, "pk", None)).delete()
    if kept is None:
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    elif not kept.primary or kept.email != user.email:
        kept.email, kept.primary = user.email, True
        kept.save(update_fields=["email", "primary"])


@transaction.atomic
def create_account(
    user: User, *, acting_user: User, context: RequestContext | None = None, invite: bool = False
) -> User:
    """Create an account (without a password: it is chosen from an invitation), audited; invite it if asked."""
    # Imported here: invitations builds on this module.
    from accounts.invitations import send_invitation

    user.set_unusable_password()
    user.save()
    record_event(
        EventType.ACCOUNT_CHANGED,
        actor=acting_user,
        target=user,
        data={"created": True, "email": user.email, "kind": user.kind, "region": user.region_id},
        context=context,
    )
    if invite:
        send_invitation(user, acting_user=acting_user, context=context)
    return user


@transaction.atomic
def update_account(user: User, *, before: dict, acting_user: User, context: RequestContext | None = None) -> User:
    """Save `user` as changed by staff; `before` holds the old values of the changed fields.

    Audited (old → new), the old address is told of a new one, and a deactivated account's sessions end.
    """
    if not may_manage_account(acting_user, User.objects.get(pk=user.pk)):
        raise PermissionDenied("Vous ne gérez pas ce compte.")
    user.save()
    changes = {}
    for name, old in before.items():
        new = user._meta.get_field(name).value_from_object(user)
        if old != new:
            changes[name] = [old, new]
    if not changes:
        return user
    record_event(
        EventType.ACCOUNT_CHANGED,
        actor=acting_user,
        target=user,
        data={"changes": changes},
        context=context,
    )
    if "email" in changes:
        _tell_the_old_address(user, changes["email"][0], context=context)
    if "is_active" in changes and not user.is_active:
        end_other_sessions(user)
    return user


@transaction.atomic
def update_profile(user: User, *, before: dict, context: RequestContext | None = None) -> User:
    """Save the identity `user` maintains themselves (« Mon compte »); `before` holds the old values of the
    changed fields. Audited (old → new) when something changed."""
    changes = {name: [old, getattr(user, name)] for name, old in before.items() if old != getattr(user, name)}
    if changes:
        user.save(update_fields=list(changes))
        record_event(EventType.PROFILE_CHANGED, actor=user, target=user, data={"changes": changes}, context=context)
    return user


@transaction.atomic
def set_login_policy(
    renewal_cutoff: datetime.date | None, *, acting_user: User, context: RequestContext | None = None
) -> LoginPolicy:
    """Set the national rule « renouvellement obligatoire sans connexion depuis le … », by a national administrator.

    A date after today is refused: it would lock out every account, even one just renewed.
    """
    if not acting_user.is_national_admin:
        raise PermissionDenied("Seul un administrateur national modifie les règles de connexion.")
    if renewal_cutoff is not None and renewal_cutoff > timezone.localdate():
        raise ValueError("The renewal cut-off cannot be later than today.")
    policy = LoginPolicy.objects.select_for_update().filter(pk=1).first() or LoginPolicy(pk=1)
    old = policy.renewal_cutoff
    policy.renewal_cutoff = renewal_cutoff
    policy.updated_by = acting_user
    policy.save()
    record_event(
        EventType.LOGIN_POLICY_CHANGED,
        actor=acting_user,
        target=policy,
        data={"renewal_cutoff": [old, renewal_cutoff]},
        context=context,
    )
    return policy


def end_other_sessions(user: User, *, keep_session_key: str | None = None) -> int:
    """End every session of `user` but the one kept: they are signed out at their next request."""
    ended = 0
    for user_session in UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or ""):
        user_session.end()
        ended += 1
    return ended


@transaction.atomic
def password_was_changed(
    user: User,
    *,
    context: RequestContext | None = None,
    keep_session_key: str | None = None,
    event=EventType.PASSWORD_CHANGED,
) -> None:
    """What follows any new password (change, reset, renewal, invitation): the temporary password is
    gone, the date is kept, the user's other sessions end (all but `keep_session_key`), and it is audited."""
    user.password_must_change = False
    user.temporary_password_expires_at = None
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password_must_change", "temporary_password_expires_at", "password_changed_at"])
    end_other_sessions(user, keep_session_key=keep_session_key)
    record_event(event, actor=user, context=context)


@transaction.atomic
def renew_temporary_password(
    user: User, password: str, *, context: RequestContext | None = None, keep_session_key: str | None = None
) -> None:
    """The first login: replace the temporary password by the user's own; the session that did it stays
    (the view keeps it signed in with the new password)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    password_was_changed(user, context=context, keep_session_key=keep_session_key, event=EventType.PASSWORD_CHANGED)
    notify("account/email/password_changed", user, context=context)


@transaction.atomic
def change_email(user: User, new_email: str, *, context: RequestContext | None = None) -> None:
    """Replace the user's address (already verified by a code sent to it) and warn the old one."""
    old_email = user.email
    user.email = new_email
    user.save(update_fields=["email"])  # the address row follows (receivers.keep_the_address_row)
    EmailAddress.objects.filter(user=user).update(verified=True)
    record_event(
        EventType.EMAIL_CHANGED,
        actor=user,
        context=context,
        data={"from": old_email, "to": new_email},
    )
    _tell_the_old_address(user, old_email, context=context)


@transaction.atomic
def end_session(user: User, user_session: UserSession, *, context: RequestContext | None = None) -> None:
    """« Terminer » a session of the user's from « Mon compte »."""
    user_session.end()
    record_event(
        EventType.SESSION_ENDED,
        actor=user,
        context=context,
        data={"ip": user_session.ip, "user_agent": user_session.user_agent[:200]},
    )
