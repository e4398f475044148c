"""« Gestion des Contrats » (the EJ list) and the EJ page with its « Liste des contrats »."""

from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from contracts.hooks import contract_states
from contracts.models import Contract, EntiteJuridique, Etablissement, Membership
from ecars.lib.listing import PAGE_SIZES, build_listing


EJ_SORTS = {
    "ej": ("finess",),
    "adresse": ("postcode", "city"),
    "telephone": ("phone",),
}


def _search_ejs(queryset, query):
    return queryset.filter(
        Q(finess__icontains=query)
        | Q(name__icontains=query)
        | Q(city__icontains=query)
        | Q(postcode__startswith=query)
    )


@require_safe
def home(request):
    """« Gestion des Contrats »: the EJ the user belongs to, sortable, searchable, 20 a page."""
    listing = build_listing(
        request,
        EntiteJuridique.objects.for_user(request.user),
        sorts=EJ_SORTS,
        default_sort="ej",
        search=_search_ejs,
    )
    context = {"listing": listing, "page_sizes": PAGE_SIZES}
    return render(request, "contracts/home.html", context)


@require_safe
def ej_detail(request, ej):
    """The EJ page: « Raison Sociale », « Finess Juridique », « Détails EJ », « Liste des contrats »."""
    ej = get_object_or_404(
        EntiteJuridique.objects.for_user(request.user)
        .select_related("region")
        .prefetch_related(Prefetch("etablissements", queryset=Etablissement.objects.order_by("finess"))),
        public_id=ej,
    )
    contracts = list(
        Contract.objects.filter(ej=ej).select_related("contract_type").order_by("contract_type__code", "name")
    )
    # « Etat en cours » comes from the app that follows the campaigns (contracts/hooks.py).
    states = contract_states.first(contracts, default={})
    for contract in contracts:
        contract.current_state_display = states.get(contract.pk, "")
    context = {
        "ej": ej,
        "contracts": contracts,
        "is_member_admin": Membership.objects.filter(user=request.user, ej=ej, is_admin=True).exists(),
        "support_region": ej.region,
    }
    return render(request, "contracts/ej_detail.html", context)
