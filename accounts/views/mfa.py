"""allauth's TOTP set-up and recovery codes, audited in the transaction of the change.

allauth sends its « authenticator added » and « recovery codes reset » signals after the commit: an event
recorded there would be written in a transaction of its own, and lost if the process stopped in between.
These views record theirs inside the request's transaction (ATOMIC_REQUESTS), where allauth's flow writes.
"""

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.recovery_codes.views import GenerateRecoveryCodesView
from allauth.mfa.totp.views import ActivateTOTPView

from audit.enums import EventType
from audit.services import record_event
from ecars.lib.http import request_context


class ActivateTOTPAndVerifySessionView(ActivateTOTPView):
    """Setting TOTP up takes a valid code: the session has passed the second factor, and the agent goes
    on working without typing another code (accounts.middleware.StaffRequireTOTPMiddleware)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        record_event(EventType.TOTP_ACTIVATED, actor=self.request.user, context=request_context(self.request))
        record_authentication(self.request, self.request.user, "mfa", type="totp")
        return response


class AuditedGenerateRecoveryCodesView(GenerateRecoveryCodesView):
    """« Générer de nouveaux codes de secours »: the old codes stop working, which the account's owner and the
    ARS may need to trace."""

    def form_valid(self, form):
        response = super().form_valid(form)
        record_event(
            EventType.RECOVERY_CODES_GENERATED, actor=self.request.user, context=request_context(self.request)
        )
        return response


activate_totp = ActivateTOTPAndVerifySessionView.as_view()
generate_recovery_codes = AuditedGenerateRecoveryCodesView.as_view()
