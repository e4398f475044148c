from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import User
from audit.enums import EventType
from audit.services import record_event
from ecars.emails import queue_message
from ecars.lib.http import client_ip


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
        request = context.get("request")
        if template_prefix == "account/email/password_reset_code" and request is not None:
            record_event(
                EventType.RESET_CODE_SENT,
                actor=User.objects.filter(email__iexact=email).first(),
                ip_address=client_ip(request),
                data={"email": email},
            )
        # Codes are secrets: they never rest in clear in the task table.
        queue_message(message, sensitive="code" in context)

    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            login = credentials.get("email", "")
            record_event(
                EventType.LOGIN_THROTTLED,
                actor=User.objects.filter(email__iexact=login).first(),
                ip_address=client_ip(request),
                data={"email": login, "action": "login"},
            )
            raise

    def authentication_failed(self, request, **credentials):
        login = credentials.get("email", "")
        record_event(
            EventType.LOGIN_FAILED,
            actor=User.objects.filter(email__iexact=login).first(),
            ip_address=client_ip(request),
            data={"email": login},
        )
