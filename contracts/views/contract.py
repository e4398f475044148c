"""The contract page (the manual's « formulaire de votre contrat ») and its two lists.

The contract page shows the contract's own fields and links; what the apps built on `contracts` add
(the self-evaluation's state, buttons and calendar, the documents) comes through the `contract_page`
hook (contracts/hooks.py), in the slot each block names.
"""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from contracts.hooks import Block, contract_page
from contracts.models import Contract
from ecars.lib.logs import note_ej


CONTRACT_PAGE_SLOTS = ("header", "actions", "body")


def get_contract_for_user(request, contract) -> Contract:
    """The contract of public id `contract` if the user may see it; 404 otherwise (never 403)."""
    found = get_object_or_404(
        Contract.objects.for_user(request.user).select_related("contract_type", "ej__region", "ars_contact"),
        public_id=contract,
    )
    note_ej(request, found.ej)
    return found


@require_safe
def contract_detail(request, contract):
    contract = get_contract_for_user(request, contract)
    context = {
        "contract": contract,
        "blocks": blocks_by_slot(contract_page.collect(request, contract)),
        "support_region": contract.ej.region,
    }
    return render(request, "contracts/contract_detail.html", context)


def blocks_by_slot(contributions) -> dict[str, list[Block]]:
    """The blocks of each slot, in the order of the apps' registration; an app may give one block or several."""
    slots = {slot: [] for slot in CONTRACT_PAGE_SLOTS}
    for contribution in contributions:
        for block in [contribution] if isinstance(contribution, Block) else contribution:
            slots[block.slot].append(block)
    return slots


@require_safe
def contract_contacts(request, contract):
    """« Accéder à la liste des contacts administratifs »."""
    contract = get_contract_for_user(request, contract)
    context = {
        "contract": contract,
        "contacts": contract.administrative_contacts.order_by("position", "last_name"),
        "support_region": contract.ej.region,
    }
    return render(request, "contracts/contract_contacts.html", context)


@require_safe
def contract_etablissements(request, contract):
    """« Accéder à la liste des établissements du contrat »."""
    contract = get_contract_for_user(request, contract)
    context = {
        "contract": contract,
        "etablissements": contract.etablissements.order_by("finess"),
        "support_region": contract.ej.region,
    }
    return render(request, "contracts/contract_etablissements.html", context)
