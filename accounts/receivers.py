"""Audit of authentication events, and what follows a new password, whichever flow set it."""

import time

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.middleware import LOGIN_AT_SESSION_KEY, renew_idle_delay
from accounts.models import User
from accounts.services import password_was_changed, sync_email_address
from audit.enums import EventType
from audit.services import record_event
from ecars.lib.http import request_context


@receiver(auth_signals.user_logged_in)
def on_login(sender, request, user, **kwargs):
    request.session[LOGIN_AT_SESSION_KEY] = time.time()
    renew_idle_delay(request)
    record_event(EventType.LOGIN_SUCCEEDED, actor=user, context=request_context(request))


@receiver(auth_signals.user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        record_event(EventType.LOGOUT, actor=user, context=request_context(request))


def _session_kept(request, user):
    """The session that changed its own password stays signed in; every other session of the user ends."""
    return request.session.session_key if request is not None and request.user == user else None


@receiver(account_signals.password_changed)
@receiver(account_signals.password_set)  # allauth's « set a password » (an account without one)
def on_password_changed(sender, request, user, **kwargs):
    password_was_changed(
        user,
        context=request_context(request),
        keep_session_key=_session_kept(request, user),
        event=EventType.PASSWORD_CHANGED,
    )


@receiver(account_signals.password_reset)
def on_password_reset(sender, request, user, **kwargs):
    password_was_changed(
        user,
        context=request_context(request),
        keep_session_key=_session_kept(request, user),
        event=EventType.PASSWORD_RESET,
    )


@receiver(account_signals.email_confirmed)
def on_email_confirmed(sender, request, email_address, **kwargs):
    """allauth's confirmation link of an address (verification is off, but the page exists): the address becomes
    verified, and primary, in the request's transaction."""
    record_event(
        EventType.EMAIL_CONFIRMED,
        actor=email_address.user,
        context=request_context(request),
        data={"email": email_address.email},
    )


@receiver(account_signals.password_reset_code_rejected)
def on_reset_code_rejected(sender, request, user, last_attempt, **kwargs):
    record_event(
        EventType.RESET_CODE_REJECTED,
        actor=user,
        context=request_context(request),
        data={"last_attempt": last_attempt},
    )


@receiver(post_save, sender=User)
def keep_the_address_row(sender, instance, created, update_fields, raw, **kwargs):
    """Whatever path creates an account or changes its address (admin, service, command, shell)."""
    if raw or not (created or update_fields is None or "email" in update_fields):
        return
    sync_email_address(instance)


# TOTP_ACTIVATED is recorded by accounts.views.mfa: allauth's « authenticator added » signal comes after the commit.


@receiver(mfa_signals.authenticator_removed)
def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    if authenticator.type == Authenticator.Type.TOTP:
        record_event(EventType.TOTP_DEACTIVATED, actor=user, context=request_context(request))


@receiver(mfa_signals.authentication_failed)
def on_mfa_failed(sender, request, user, **kwargs):
    record_event(EventType.LOGIN_FAILED, actor=user, context=request_context(request), data={"method": "totp"})
