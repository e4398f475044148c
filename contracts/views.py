from django.shortcuts import render
from django.views.decorators.http import require_safe

from contracts.models import EntiteJuridique


@require_safe
def home(request):
    """« Gestion des Contrats »: the EJ the user belongs to."""
    ejs = EntiteJuridique.objects.for_user(request.user).order_by("finess")
    context = {"ejs": ejs}
    return render(request, "contracts/home.html", context)
