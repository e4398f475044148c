from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

from accounts.views import account, invitations, mfa, password


app_name = "accounts"

urlpatterns = [
    path("", account.account, name="account"),
    path("rafraichir-la-session/", account.refresh_session, name="refresh_session"),
    path("sessions/terminer/", account.end_session, name="end_session"),
    path("adresse/", account.change_email, name="change_email"),
    path("adresse/verification/", account.confirm_email_change, name="confirm_email_change"),
    path("nouveau-mot-de-passe/", password.renew_password, name="renew_password"),
    path("mot-de-passe/code-verifie/", password.reset_code_verified, name="reset_code_verified"),
    path("invitation/", invitations.accept_invitation, name="accept_invitation"),
    path("invitation/<str:token>/", invitations.accept_invitation_token, name="accept_invitation_token"),
]

# Pages of django-allauth that we replace, at allauth's own addresses and names.
allauth_overrides = [
    path("password/reset/confirm/", password.confirm_reset_code, name="account_confirm_password_reset_code"),
    path("email/", account.change_email, name="account_email"),
    path("2fa/totp/activate/", mfa.activate_totp, name="mfa_activate_totp"),
    # The sessions are listed, each with its own « Terminer », in « Mon compte ».
    path("sessions/", RedirectView.as_view(url=reverse_lazy("accounts:account")), name="usersessions_list"),
]
