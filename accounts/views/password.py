"""The manual's password screens: first-login renewal, and « Renouveler le mot de passe » by code."""

import time

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.password_reset_by_code import PasswordResetVerificationProcess
from allauth.account.views import ConfirmPasswordResetCodeView
from allauth.core import ratelimit
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_safe

from accounts import services
from accounts.forms import NewPasswordForm, ResetPasswordForm
from accounts.reset_code import ResetCodeProcess
from ecars.lib.http import request_context


@require_http_methods(["GET", "POST"])
def renew_password(request):
    """First login with a temporary password: choose one's own before anything else."""
    user = request.user
    if not user.password_must_change:
        return redirect("contracts:home")
    form = NewPasswordForm(data=request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.renew_temporary_password(
            user,
            form.cleaned_data["password1"],
            context=request_context(request),
            keep_session_key=request.session.session_key,
        )
        update_session_auth_hash(request, user)  # this session stays signed in with the new password
        messages.success(request, "Votre mot de passe a été renouvelé.")
        return redirect("contracts:home")
    return render(request, "accounts/renew_password.html", {"form": form})


def address_form(email: str) -> ResetPasswordForm:
    """The address of the renewal, in an editable field, as on the manual's screens of step 2: with « Modifier
    l'adresse e-mail » it is sent to screen 1's view (`account_reset_password`), which sends a code to the new
    address exactly as it sent the first one: same rate limits, same work whether it has an account or not."""
    return ResetPasswordForm(initial={"email": email})


class ConfirmResetCodeView(ConfirmPasswordResetCodeView):
    """Screen 2: the address (editable), the code, « Vérifier le code », « Envoyer un nouveau code »,
    « Modifier l'adresse e-mail ».

    The process is ours (accounts.reset_code): the account is only known once the right code is typed.
    """

    MAX_RESENDS = 2

    @method_decorator(login_not_required)
    def dispatch(self, request, *args, **kwargs):
        # allauth's dispatch, resuming our process instead of allauth's.
        self._process = ResetCodeProcess.resume(request)
        if not self._process:
            return HttpResponseRedirect(reverse("account_login"))
        if self._process.state.get("code_confirmed"):
            return HttpResponseRedirect(reverse("account_complete_password_reset"))
        return super(ConfirmPasswordResetCodeView, self).dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if "resend" in request.POST:
            return self.resend()
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["address_form"] = address_form(self._process.state["email"])
        return context

    def resend(self):
        """A fresh code (and fresh tries and delay); counted in the same rate limit as a first request."""
        process = self._process
        email = process.state["email"]
        if process.is_resend_quota_reached(self.MAX_RESENDS) or not ratelimit.consume(
            self.request, action="reset_password", key=email.lower()
        ):
            messages.error(
                self.request,
                "Trop de codes demandés. Réessayez plus tard, ou recommencez depuis la page de connexion.",
            )
            return HttpResponseRedirect(reverse("account_confirm_password_reset_code"))
        process.record_resend()
        process.state["failed_attempts"] = 0
        process.state["at"] = time.time()
        process.send()
        process.persist()
        messages.success(self.request, "Un nouveau code de vérification vous a été envoyé.")
        return HttpResponseRedirect(reverse("account_confirm_password_reset_code"))

    def form_valid(self, form):
        if self._process.user is None:
            # The code of an address without an account was never sent: guessed, it is still wrong.
            form.add_error("code", get_adapter(self.request).validation_error("incorrect_code"))
            return self.form_invalid(form)
        self._process.confirm_code()
        return HttpResponseRedirect(reverse("accounts:reset_code_verified"))


confirm_reset_code = ConfirmResetCodeView.as_view()


@login_not_required
@require_safe
def reset_code_verified(request):
    """« Nous avons vérifié l'adresse e-mail. Vous pouvez continuer maintenant. »"""
    process = PasswordResetVerificationProcess.resume(request)
    if not process or not process.state.get("code_confirmed"):
        return redirect("account_reset_password")
    email = process.state["email"]
    return render(
        request, "account/password_reset_code_verified.html", {"email": email, "address_form": address_form(email)}
    )
