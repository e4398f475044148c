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


class AdminRequiresTOTPMiddleware:
    """Staff reach the admin only with TOTP set up and used in this session (SECURITY.md A14)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = None

    def __call__(self, request):
        if self.admin_prefix is None:
            self.admin_prefix = reverse("admin:index")
        user: User = request.user
        if user.is_authenticated and user.is_staff and request.path_info.startswith(self.admin_prefix):
            if not is_mfa_enabled(user, types=["totp"]):
                messages.warning(
                    request,
                    "La double authentification est obligatoire pour accéder à l'administration : "
                    "configurez votre application d'authentification.",
                )
                return redirect("mfa_activate_totp")
            records = get_authentication_records(request, user)
            if not any(record.get("method") == "mfa" for record in records):
                return redirect_to_login(request.get_full_path(), login_url=reverse("mfa_reauthenticate"))
        return self.get_response(request)


def _resolve(path):
    try:
        return resolve(path)
    except Resolver404:
        return None
