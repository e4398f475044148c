"""Accepting an invitation: the new user chooses their password from the link they received."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts import invitations
from accounts.forms import NewPasswordForm
from ecars.lib.http import request_context


INVITATION_SESSION_KEY = "ecars_invitation_token"


@login_not_required
@never_cache
@require_safe
def accept_invitation_token(request, token):
    """The link of the e-mail: keep the token in the session, out of the address bar and the Referer.

    Only a usable invitation starts a session: anyone can request this address with made-up tokens,
    and each would otherwise cost a session row. A stale or unknown link forgets any earlier token
    of the visitor and leads to the same page without one: « Ce lien n'est plus valable ».
    """
    request.session.pop(INVITATION_SESSION_KEY, None)
    if invitations.find_usable_invitation(token) is not None:
        request.session[INVITATION_SESSION_KEY] = token
    return redirect("accounts:accept_invitation")


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def accept_invitation(request):
    """« Activer votre compte »: the address, « Nouveau mot de passe », « Confirmer le nouveau mot de passe ».

    An unknown, used or expired link gives one and the same page, which reveals nothing.
    """
    invitation = invitations.find_usable_invitation(request.session.get(INVITATION_SESSION_KEY, ""))
    if invitation is None:
        return _invalid(request)
    form = NewPasswordForm(data=request.POST or None, user=invitation.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.accept_invitation(
                invitation, form.cleaned_data["password1"], context=request_context(request)
            )
        except invitations.InvitationNotUsable:
            return _invalid(request)
        login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        request.session.pop(INVITATION_SESSION_KEY, None)
        messages.success(request, "Votre mot de passe est enregistré : bienvenue sur e-CARS.")
        return redirect("contracts:home")
    context = {"form": form, "email": invitation.user.email}
    return render(request, "accounts/accept_invitation.html", context)


def _invalid(request):
    request.session.pop(INVITATION_SESSION_KEY, None)
    return render(request, "accounts/invitation_invalid.html")
