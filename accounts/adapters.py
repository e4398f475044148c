import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.core.internal import ratelimit
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.forms import MAX_PASSWORD_INPUT
from accounts.models import User
from audit.enums import EventType
from audit.security import record_bounded_event
from audit.services import record_event
from ecars.emails import queue_message
from ecars.lib.http import client_ip, request_context
from ecars.lib.logs import log_throttled


# Not the login's message (« Renouveler le mot de passe » is not on these pages), the same limits.
TOO_MANY_REAUTHENTICATIONS = (
    "Trop de tentatives avec un mot de passe incorrect : pour protéger votre compte, votre mot de passe ne "
    "peut plus être vérifié pour le moment. Réessayez plus tard."
)


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # One message whatever went wrong: it never tells whether the address has an account.
        "email_password_mismatch": "Adresse de messagerie ou mot de passe incorrect.",
        "too_many_login_attempts": (
            "Trop de tentatives de connexion infructueuses. Réessayez dans quelques minutes, "
            "ou cliquez sur « Renouveler le mot de passe »."
        ),
        "incorrect_code": "Code de vérification incorrect.",
    }

    def is_open_for_signup(self, request):
        """No self-sign-up: establishment accounts are created by ARS staff."""
        return False

    def send_mail(self, template_prefix, email, context):
        """Render allauth's e-mails from our French templates and send them through the tasks queue."""
        context = {"SITE_URL": settings.SITE_URL, **context}
        message = self.render_mail(template_prefix, email, context)
        # Codes are secrets: they never rest in clear in the task table. (The renewal code is not sent
        # from here: accounts.reset_code sends it from the worker, and audits it there.)
        # A code (the new address's, 10 minutes like the renewal's) is not sent once expired in the queue.
        code = "code" in context
        expires_at = time.time() + settings.ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT if code else None
        queue_message(message, sensitive=code, expires_at=expires_at)

    def reauthenticate(self, user, password):
        """Check the current password of a signed-in user, throttled and audited like the login.

        Every such check goes through here: « Modifier l'adresse » (EmailChangeForm), « Modifier le mot
        de passe » (ChangePasswordForm) and allauth's reauthentication page (before the TOTP pages).
        A wrong password counts in the login's own `login_failed` counters, per account and per IP
        address, so a stolen session buys no guesses beyond the login's (issue 9: 30 wrong tries in 4 s
        on « Modifier l'adresse »). Over the limit even the right password is refused until the window
        passes. A right one takes its try back, as at the login.
        """
        request = allauth_context.request
        login_key = self._get_login_attempts_cache_key(request, email=user.email)
        usage = ratelimit.consume(request, app="allauth.account", action="login_failed", key=login_key)
        if not usage:
            # Audited like a throttled login: one row per client address and minute, the rest counted.
            ip = client_ip(request)
            log_throttled("reauthenticate", ip=ip, user=user)
            record_bounded_event(
                EventType.LOGIN_THROTTLED,
                key=(ip, "reauthenticate"),
                actor=user,
                context=request_context(request),
                data={"email": user.email, "action": "reauthenticate"},
            )
            raise ValidationError(TOO_MANY_REAUTHENTICATIONS, code="too_many_login_attempts")
        # An oversized input is a wrong password, refused without computing a hash (SECURITY.md A4).
        if len(password or "") <= MAX_PASSWORD_INPUT and user.check_password(password):
            usage.rollback()
            return True
        record_event(
            EventType.LOGIN_FAILED,
            actor=user,
            context=request_context(request),
            data={"email": user.email, "action": "reauthenticate"},
        )
        return False

    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            # A throttled client keeps trying: one audit row per client address and minute, the
            # others counted in the cache and reported by the next row (issue 9, item 11).
            login = credentials.get("email", "")
            ip = client_ip(request)
            actor = User.objects.filter(email__iexact=login).first()
            log_throttled("login", ip=ip, user=actor)
            record_bounded_event(
                EventType.LOGIN_THROTTLED,
                key=(ip, "login_failed"),
                actor=actor,
                context=request_context(request),
                data={"email": login, "action": "login"},
            )
            raise

    def authentication_failed(self, request, **credentials):
        login = credentials.get("email", "")
        record_event(
            EventType.LOGIN_FAILED,
            actor=User.objects.filter(email__iexact=login).first(),
            context=request_context(request),
            data={"email": login},
        )
