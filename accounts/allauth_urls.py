"""Pages of django-allauth that we replace, at allauth's own addresses and names (included before allauth's)."""

from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

from accounts.views import account, mfa, password


urlpatterns = [
    path("password/reset/confirm/", password.confirm_reset_code, name="account_confirm_password_reset_code"),
    path("email/", account.change_email, name="account_email"),
    path("2fa/totp/activate/", mfa.activate_totp, name="mfa_activate_totp"),
    path("2fa/recovery-codes/generate/", mfa.generate_recovery_codes, name="mfa_generate_recovery_codes"),
    # The sessions are listed, each with its own « Terminer », in « Mon compte ».
    path("sessions/", RedirectView.as_view(url=reverse_lazy("accounts:account")), name="usersessions_list"),
]
