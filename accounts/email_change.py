"""Changing one's address: a 6-digit code sent to the new address proves it before it replaces the old one.

The pending change lives in the browser session that asked for it (like allauth's own code flows):
valid 10 minutes, voided after 3 wrong codes.
"""

from allauth.account import app_settings as allauth_account_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.code_verification import AbstractCodeVerificationProcess

from ecars.emails import send_templated_email


SESSION_KEY = "ecars_email_change"


class EmailChangeProcess(AbstractCodeVerificationProcess):
    def __init__(self, request, state, user=None):
        self.request = request
        super().__init__(
            state=state,
            timeout=allauth_account_settings.PASSWORD_RESET_BY_CODE_TIMEOUT,
            max_attempts=allauth_account_settings.PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS,
            user=user,
        )

    @classmethod
    def initiate(cls, request, user, email: str) -> "EmailChangeProcess":
        process = cls(request, state=cls.initial_state(user, email=email), user=user)
        process.send()
        process.persist()
        return process

    @classmethod
    def resume(cls, request) -> "EmailChangeProcess | None":
        state = request.session.get(SESSION_KEY)
        if not state or state.get("user_id") != str(request.user.pk):
            return None
        return cls(request, state=state).abort_if_invalid()

    def send(self) -> None:
        self.state["code"] = get_adapter(self.request).generate_password_reset_code()
        send_templated_email(
            "accounts/email/email_change_code",
            to=[self.state["email"]],
            context={"code": self.state["code"], "user": self.user},
            sensitive=True,
        )

    def persist(self) -> None:
        self.request.session[SESSION_KEY] = self.state

    def abort(self) -> None:
        self.request.session.pop(SESSION_KEY, None)
