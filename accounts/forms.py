from allauth.account import forms as allauth_forms
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from allauth.mfa.base import forms as mfa_forms
from django import forms
from django.contrib.auth import password_validation
from django.core.validators import MaxLengthValidator
from django.utils import formats, timezone

from accounts.models import LoginPolicy, User
from accounts.reset_code import ResetCodeProcess
from audit.enums import EventType
from audit.security import record_bounded_event
from ecars.lib.http import client_ip, request_context
from ecars.lib.logs import log_throttled


# Longer input is refused before any hashing or validation, so that a huge "password" costs
# nothing (SECURITY.md A4); the message is the rule's own.
MAX_PASSWORD_INPUT = 4096
TOO_LONG = "Le mot de passe doit comporter au plus 64 caractères."


def _bound_password_fields(form, *names):
    for name in names:
        field = form.fields[name]
        field.max_length = MAX_PASSWORD_INPUT
        field.validators.append(MaxLengthValidator(MAX_PASSWORD_INPUT, message=TOO_LONG))


def must_renew_before_login(user: User) -> str | None:
    """Why this user must renew their password before signing in, or None."""
    if user.password_must_change and user.temporary_password_expires_at is not None:
        if user.temporary_password_expires_at <= timezone.now():
            return (
                "Votre mot de passe temporaire a expiré. Cliquez sur « Renouveler le mot de passe » "
                "pour en choisir un nouveau."
            )
    cutoff = LoginPolicy.current().renewal_cutoff
    if cutoff is not None:
        # A cut-off is never later than today (accounts.services.set_login_policy); should one be found
        # in the database all the same, a password renewed today still lets its owner in.
        cutoff = min(cutoff, timezone.localdate())
        last_activity = max(filter(None, (user.last_login, user.password_changed_at, user.date_joined)))
        if timezone.localtime(last_activity).date() < cutoff:
            return (
                f"Sans connexion depuis le {formats.date_format(cutoff, 'j F Y')}, merci de renouveler votre "
                "mot de passe : cliquez sur « Renouveler le mot de passe »."
            )
    return None


class LoginForm(allauth_forms.LoginForm):
    """The manual's login: « Adresse de messagerie », « Mot de passe »."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Adresse de messagerie"
        self.fields["password"].label = "Mot de passe"
        self.fields["password"].help_text = ""

    def clean(self):
        password = self.cleaned_data.get("password") or ""
        if len(password) > MAX_PASSWORD_INPUT:
            # The same answer as a wrong password, and no hash computed.
            raise get_adapter(self.request).validation_error("email_password_mismatch")
        cleaned_data = super().clean()
        if self.user is not None:
            reason = must_renew_before_login(self.user)
            if reason:
                raise forms.ValidationError(reason, code="renewal_required")
        return cleaned_data


class ResetPasswordForm(allauth_forms.ResetPasswordForm):
    """« Renouveler le mot de passe »: the same work in the request for every address (accounts.reset_code)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Adresse de messagerie"

    def clean_email(self):
        # No account lookup here: whether the address is known is for the background task to find out.
        get_adapter().clean_email(self.cleaned_data["email"].lower())
        self.users = []
        return self.cleaned_data["email"]

    def save(self, request, **kwargs):
        email = self.cleaned_data["email"]
        ResetCodeProcess.initiate(request=request, email=email)
        return email


class NewPasswordMixin:
    """« Nouveau mot de passe » and « Confirmer le nouveau mot de passe », with the manual's rules."""

    def set_new_password_labels(self):
        self.fields["password1"].label = "Nouveau mot de passe"
        self.fields["password2"].label = "Confirmer le nouveau mot de passe"
        self.fields["password1"].help_text = ""
        _bound_password_fields(self, "password1", "password2")


class ResetPasswordKeyForm(NewPasswordMixin, allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_new_password_labels()


class ChangePasswordForm(NewPasswordMixin, allauth_forms.ChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["oldpassword"].label = "Mot de passe actuel"
        self.fields["oldpassword"].help_text = ""
        _bound_password_fields(self, "oldpassword")
        self.set_new_password_labels()

    def clean_oldpassword(self):
        # allauth compares it with no limit but the page's 5 a minute: throttled like the login instead.
        password = self.cleaned_data.get("oldpassword", "")
        if not get_adapter().reauthenticate(self.user, password):
            raise get_adapter().validation_error("enter_current_password")
        return password


class NewPasswordForm(forms.Form):
    """Choose a password: after a first login with a temporary password, or from an invitation."""

    password1 = forms.CharField(label="Nouveau mot de passe", strip=False)
    password2 = forms.CharField(label="Confirmer le nouveau mot de passe", strip=False)

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        _bound_password_fields(self, "password1", "password2")

    def clean_password1(self):
        password = self.cleaned_data["password1"]
        password_validation.validate_password(password, self.user)
        if self.user.check_password(password):
            raise forms.ValidationError(
                "Le nouveau mot de passe doit être différent du mot de passe temporaire.", code="password_unchanged"
            )
        return password

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("password1") and cleaned_data.get("password1") != cleaned_data.get("password2"):
            self.add_error("password2", "Les deux mots de passe ne sont pas identiques.")
        return cleaned_data


class ProfileForm(forms.ModelForm):
    """« Mon compte »: the identity a user maintains themselves."""

    class Meta:
        model = User
        fields = ("last_name", "first_name", "phone")
        labels = {"last_name": "Nom", "first_name": "Prénom", "phone": "Téléphone"}

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        digits = phone.replace(" ", "").replace(".", "").replace("-", "")
        if phone and not (digits.lstrip("+").isdigit() and 10 <= len(digits.lstrip("+")) <= 15):
            raise forms.ValidationError("Saisissez un numéro de téléphone valide, par exemple 04 76 76 75 75.")
        return phone


class EmailChangeForm(forms.Form):
    email = forms.EmailField(label="Nouvelle adresse de messagerie", max_length=254)
    password = forms.CharField(
        label="Mot de passe actuel", strip=False, widget=forms.PasswordInput, max_length=MAX_PASSWORD_INPUT
    )

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if email == self.user.email:
            raise forms.ValidationError("C'est déjà votre adresse de messagerie.")
        return email

    def clean_password(self):
        # Throttled and audited like the login (AccountAdapter.reauthenticate): over the limit even the
        # right password is refused, with its own message.
        password = self.cleaned_data["password"]
        if not get_adapter().reauthenticate(self.user, password):
            raise forms.ValidationError("Mot de passe incorrect.", code="wrong_password")
        return password


class MFAReauthenticateForm(mfa_forms.ReauthenticateForm):
    """allauth's reauthentication by TOTP or recovery code (before the TOTP pages).

    allauth already counts its wrong codes in the login's `login_failed` limits (per account and per IP
    address); here the refusal gets its own message and, like every throttled try, an audit event.
    """

    def clean_code(self):
        try:
            return super().clean_code()
        except forms.ValidationError as error:
            if error.code != "too_many_login_attempts":
                raise
            ip = client_ip(allauth_context.request)
            log_throttled("mfa_reauthenticate", ip=ip, user=self.user)
            record_bounded_event(
                EventType.LOGIN_THROTTLED,
                key=(ip, "mfa_reauthenticate"),
                actor=self.user,
                context=request_context(allauth_context.request),
                data={"email": self.user.email, "action": "mfa_reauthenticate"},
            )
            raise forms.ValidationError(TOO_MANY_CODES, code="too_many_login_attempts") from None


TOO_MANY_CODES = (
    "Trop de codes incorrects : pour protéger votre compte, les codes ne peuvent plus être vérifiés pour le "
    "moment. Réessayez plus tard."
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code de vérification",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
