"""allauth's TOTP set-up, which also counts as the second factor of the session that does it."""

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.totp.views import ActivateTOTPView


class ActivateTOTPAndVerifySessionView(ActivateTOTPView):
    """Setting TOTP up takes a valid code: the session has passed the second factor, and the agent goes
    on working without typing another code (accounts.middleware.StaffRequireTOTPMiddleware)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        record_authentication(self.request, self.request.user, "mfa", type="totp")
        return response


activate_totp = ActivateTOTPAndVerifySessionView.as_view()
