from django.urls import path

from accounts.views import account, invitations, password


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
