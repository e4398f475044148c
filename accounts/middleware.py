"""Session and access rules that hold on every request, whatever the view."""

import time

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse

from accounts.enums import UserKind
from accounts.models import User


LOGIN_AT_SESSION_KEY = "ecars_login_at"
RENEWED_AT_SESSION_KEY = "ecars_renewed_at"
# The idle delay restarts with activity, but the session row is rewritten at most this often.
RENEWAL_GRANULARITY = 60


def session_seconds_left(request) -> int:
    """Seconds until the session ends: 30 minutes of inactivity, or 8 hours after the login."""
    now = time.time()
    renewed_at = request.session.get(RENEWED_AT_SESSION_KEY, now)
    idle = int(renewed_at + settings.SESSION_COOKIE_AGE - now)
    login_at = request.session.get(LOGIN_AT_SESSION_KEY, now)
    absolute = int(login_at + settings.SESSION_ABSOLUTE_LIFETIME - now)
    return max(0, min(idle, absolute))


class SessionLifetimeMiddleware:
    """The session's two clocks (SECURITY.md B2).

    - Idle: the session expires SESSION_COOKIE_AGE (30 minutes) after it was last saved. Activity
      saves it again, at most once a minute, so that deadline day does not pay an UPDATE per request.
    - Absolute: 8 hours after the login the session ends, however active it has been.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            login_at = request.session.setdefault(LOGIN_AT_SESSION_KEY, now)
            if now - login_at > settings.SESSION_ABSOLUTE_LIFETIME:
                logout(request)
                messages.info(request, "Votre session a expiré après 8 heures : reconnectez-vous.")
                return redirect_to_login(request.get_full_path())
            if now - request.session.get(RENEWED_AT_SESSION_KEY, 0) >= RENEWAL_GRANULARITY:
                renew_idle_delay(request)
        return self.get_response(request)


def renew_idle_delay(request) -> None:
    """Restart the 30 minutes of inactivity from now (the session is saved with a new expiry)."""
    request.session[RENEWED_AT_SESSION_KEY] = time.time()


class PasswordRenewalMiddleware:
    """After a login with a temporary password, nothing but the renewal page until the password is renewed."""

    ALLOWED = {"accounts:renew_password", "account_logout", "accounts:refresh_session", "health"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.password_must_change:
            match = _resolve(request.path_info)
            if match is None or match.view_name not in self.ALLOWED:
                return redirect("accounts:renew_password")
        return self.get_response(request)


class StaffRequireTOTPMiddleware:
    """Staff reach every page, the admin and the portal alike, only with TOTP set up and used in this
    session (SECURITY.md A14); the pages that set it up or check it, and logout, are the exceptions.

    « Staff » is any account that is not an establishment user: an agent's password alone opens
    nothing of the region's data, not even the portal's pages or its documents.
    """

    # Without TOTP yet: only setting it up (allauth asks for the password again first if needed).
    SET_UP = {"mfa_activate_totp", "account_reauthenticate", "account_logout", "health"}
    # TOTP set up but not used in this session: only the code's page.
    VERIFY = {"mfa_reauthenticate", "account_logout", "health"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user: User = request.user
        if user.is_authenticated and requires_totp(user):
            match = _resolve(request.path_info)
            view_name = match.view_name if match is not None else None
            if not is_mfa_enabled(user, types=["totp"]):
                if view_name not in self.SET_UP:
                    messages.warning(
                        request,
                        "La double authentification est obligatoire pour les agents : configurez votre "
                        "application d'authentification.",
                    )
                    return redirect("mfa_activate_totp")
            elif view_name not in self.VERIFY and not totp_used_in_session(request, user):
                return redirect_to_login(request.get_full_path(), login_url=reverse("mfa_reauthenticate"))
        return self.get_response(request)


def requires_totp(user: User) -> bool:
    """Agents of every body and national administrators; establishment users may add TOTP, not must."""
    return user.is_staff or user.is_superuser or user.kind != UserKind.ETABLISSEMENT


def totp_used_in_session(request, user: User) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, user))


def _resolve(path):
    try:
        return resolve(path)
    except Resolver404:
        return None
