from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from contracts.models import Membership
from ecars.lib.urls import get_safe_url


@require_safe
def account(request):
    """« Mon compte »: the user's identity and their EJ with their role in each."""
    memberships = Membership.objects.filter(user=request.user).select_related("ej").order_by("ej__name")
    context = {"memberships": memberships}
    return render(request, "accounts/account.html", context)


@require_POST
def refresh_session(request):
    """« Rafraîchir la session »: extend the session without leaving the page.

    A script (fetch) gets an empty 204; a plain form post goes back where it came from.
    """
    request.session.modified = True
    if request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(status=204)
    messages.success(request, "Votre session a été prolongée.")
    return redirect(get_safe_url(request, request.POST.get("next"), reverse("contracts:home")))
