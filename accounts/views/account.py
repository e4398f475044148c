"""« Mon compte » and « Rafraîchir la session »."""

from allauth.core import ratelimit
from allauth.core.internal.cryptokit import compare_user_code
from allauth.mfa.utils import is_mfa_enabled
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts import hooks, services
from accounts.email_change import EmailChangeProcess
from accounts.forms import CodeForm, EmailChangeForm, ProfileForm
from accounts.middleware import renew_idle_delay, session_seconds_left
from ecars.lib.http import request_context
from ecars.lib.urls import get_safe_url


@require_http_methods(["GET", "POST"])
def account(request):
    """« Mon compte »: identity (editable), address, password, sessions, TOTP, EJ and roles (read-only)."""
    user = request.user
    form = ProfileForm(data=request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        before = {name: form.initial.get(name) for name in form.changed_data}
        services.update_profile(form.save(commit=False), before=before, context=request_context(request))
        messages.success(request, "Vos informations ont été enregistrées.")
        return redirect("accounts:account")
    sessions = UserSession.objects.purge_and_list(user)
    context = {
        "form": form,
        # « Mes entités juridiques », from contracts (accounts/hooks.py).
        "blocks": hooks.account_page.collect(request),
        "sessions": sorted(sessions, key=lambda s: s.created_at, reverse=True),
        "current_session_key": request.session.session_key,
        "totp_enabled": is_mfa_enabled(user, types=["totp"]),
    }
    return render(request, "accounts/account.html", context)


@require_POST
def end_session(request):
    """« Terminer »: sign one of one's sessions out (the one in use goes through « Se déconnecter »)."""
    # The form sends a number; anything else names no session (and must not reach the query as is).
    session_pk = request.POST.get("session", "")
    if not (session_pk.isascii() and session_pk.isdigit()):
        raise Http404
    user_session = get_object_or_404(
        UserSession.objects.filter(user=request.user).exclude(session_key=request.session.session_key),
        pk=session_pk,
    )
    services.end_session(request.user, user_session, context=request_context(request))
    messages.success(request, "La session a été terminée.")
    return redirect(reverse("accounts:account") + "#sessions")


@require_http_methods(["GET", "POST"])
def change_email(request):
    """Step 1: the new address and the current password (re-authentication)."""
    form = EmailChangeForm(data=request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        if not ratelimit.consume(request, action="change_email", user=request.user):
            messages.error(request, "Trop de demandes de changement d'adresse : réessayez plus tard.")
            return redirect("accounts:account")
        EmailChangeProcess.initiate(request, request.user, form.cleaned_data["email"])
        return redirect("accounts:confirm_email_change")
    return render(request, "accounts/change_email.html", {"form": form})


@require_http_methods(["GET", "POST"])
def confirm_email_change(request):
    """Step 2: the code received at the new address."""
    process = EmailChangeProcess.resume(request)
    if process is None:
        messages.error(request, "La demande de changement d'adresse a expiré : recommencez.")
        return redirect("accounts:change_email")
    form = CodeForm(data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        if compare_user_code(actual=form.cleaned_data["code"], expected=process.code):
            process.abort()
            services.change_email(request.user, process.state["email"], context=request_context(request))
            messages.success(request, "Votre adresse de messagerie a été modifiée.")
            return redirect("accounts:account")
        if not process.record_invalid_attempt():
            messages.error(request, "Trop de codes incorrects : la demande est annulée. Recommencez.")
            return redirect("accounts:change_email")
        form.add_error("code", "Code de vérification incorrect.")
    return render(request, "accounts/confirm_email_change.html", {"form": form, "email": process.state["email"]})


@require_POST
def refresh_session(request):
    """« Rafraîchir la session »: this request itself renews the idle delay.

    From the page's script (fetch) the answer is the number of seconds left; from a plain form
    post, the user goes back where they came from.
    """
    renew_idle_delay(request)
    if request.headers.get("X-Requested-With") == "fetch":
        return JsonResponse({"seconds_left": session_seconds_left(request)})
    messages.success(request, "Votre session a été prolongée.")
    return redirect(get_safe_url(request, request.POST.get("next"), reverse("contracts:home")))
