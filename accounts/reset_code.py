"""« Renouveler le mot de passe »: allauth's renewal by code, with no way to tell a known address from
an unknown one, by content or by timing (SECURITY.md A12).

allauth looks the account up in the request and, for a known address only, renders the e-mail, writes
the audit row, seals the code and queues the message: measurable work (issue 9: a median of 14 ms
against 10.5 ms). Here the request does the same work whatever the address: it draws a code, keeps it
in the browser session that asked for it (as allauth does: the code only works there) and queues one
task, the same for every address, whose only argument is sealed (the code never rests in clear in the
task table). The task, in the background worker, looks the account up and, if there is one, sends the
code and records the event; otherwise it does nothing (ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS is off: a closed
portal does not write to strangers).

The account is looked up again, with one query whatever the answer, when a code is typed: a wrong
code costs the same for both, and a right one (which only the owner of the mailbox has) pins the account
for the rest of the flow.
"""

import json
import time

from allauth.account import signals
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.code_verification import AbstractCodeVerificationProcess
from allauth.account.internal.flows.password_reset_by_code import (
    PASSWORD_RESET_VERIFICATION_SESSION_KEY,
    PasswordResetVerificationProcess,
)
from allauth.account.internal.userkit import user_id_to_str
from django.conf import settings
from django.db import transaction
from django_tasks import task

from accounts.models import User
from audit.enums import EventType
from audit.services import record_event
from ecars.emails import deliver, expired, seal, unseal
from ecars.lib.http import RequestContext, request_context


TEMPLATE_PREFIX = "account/email/password_reset_code"
_NOT_LOOKED_UP = object()


def account_for(email: str) -> User | None:
    """The active account of `email`, in one query whether there is one or not."""
    return User.objects.filter(email__iexact=email, is_active=True).order_by("pk").first()


class ResetCodeProcess(PasswordResetVerificationProcess):
    """The renewal process, whose state never says, in the request, whether the address is known."""

    _account = _NOT_LOOKED_UP

    @classmethod
    def initiate(cls, *, request, email: str, user=None) -> "ResetCodeProcess":
        # `user` (allauth's lookup) is ignored on purpose: the request must not depend on it.
        process = cls(request, state=cls.initial_state(None, email))
        process.send()
        process.persist()
        return process

    @classmethod
    def resume(cls, request) -> "ResetCodeProcess | None":
        state = request.session.get(PASSWORD_RESET_VERIFICATION_SESSION_KEY)
        if not state:
            return None
        return cls(request, state=state).abort_if_invalid()

    @property
    def user(self) -> User | None:
        if self.state.get("user_id"):
            return super().user
        if self._account is _NOT_LOOKED_UP:
            self._account = account_for(self.state["email"])
        return self._account

    def send(self) -> None:
        """A fresh code in the session, and the one task that will send it if the address has an account."""
        self.state["code"] = get_adapter(self.request).generate_password_reset_code()
        context = request_context(self.request)
        payload = seal(
            json.dumps(
                {
                    "email": self.state["email"],
                    "code": self.code,
                    "ip": context.ip_address,
                    "request_id": context.request_id,
                    # Queued while SMTP is down, the code is not sent once it can no longer be used.
                    "expires_at": time.time() + settings.ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT,
                }
            )
        )
        transaction.on_commit(lambda: send_reset_code.enqueue(payload))

    def confirm_code(self) -> None:
        """The right code: the account it was sent to is the one whose password will be renewed."""
        user = self.user
        if user is None:  # the view refuses a code for an address without an account
            raise ValueError("no account to renew the password of")
        self.state["user_id"] = user_id_to_str(user)
        self._user = user
        super().confirm_code()

    def record_invalid_attempt(self) -> bool:
        has_attempts_left = AbstractCodeVerificationProcess.record_invalid_attempt(self)
        # allauth signals (and we audit) a wrong code only for a known address: here both pay the same
        # lookup and the same audit row (without an actor when there is no account).
        signals.password_reset_code_rejected.send(
            sender=PasswordResetVerificationProcess,
            request=self.request,
            user=self.user,
            last_attempt=not has_attempts_left,
        )
        return has_attempts_left


@task()
def send_reset_code(payload: str) -> None:
    """In the worker: send the code to the account of the address, if there is one; nothing otherwise.

    Not sent once expired (it waited in the queue while SMTP was down); queued again if SMTP cannot take it now.
    """
    data = json.loads(unseal(payload))
    if expired(data.get("expires_at")):
        return
    user = account_for(data["email"])
    if user is None:
        return
    adapter = get_adapter()
    context = {"SITE_URL": settings.SITE_URL, "email": data["email"], "user": user, "code": data["code"]}
    # To the address on record: the code proves control of that mailbox.
    message = adapter.render_mail(TEMPLATE_PREFIX, user.email, context)
    if "queued_at" not in data:
        data["queued_at"] = time.time()
        payload = seal(json.dumps(data))
    if not deliver(
        message,
        queued_at=data["queued_at"],
        retry=lambda run_after: send_reset_code.using(run_after=run_after).enqueue(payload),
    ):
        return
    record_event(
        EventType.RESET_CODE_SENT,
        actor=user,
        context=RequestContext(ip_address=data["ip"], request_id=data.get("request_id", "")),
        data={"email": data["email"]},
    )
