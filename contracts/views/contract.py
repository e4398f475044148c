"""The contract page (the manual's « formulaire de votre contrat ») and its two lists."""

import uuid

from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from contracts.models import Contract
from documents.antivirus import may_download, scanning_enabled
from documents.models import Document
from documents.services import may_add_contract_documents
from documents.validation import ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS
from evaluation.models import SelfEvaluation
from evaluation.perms import DEADLINE_WARNING_DAYS, abilities, role_in_ej


def get_contract_for_user(request, contract) -> Contract:
    """The contract of public id `contract` if the user may see it; 404 otherwise (never 403)."""
    return get_object_or_404(
        Contract.objects.for_user(request.user).select_related("contract_type", "ej__region", "ars_contact"),
        public_id=contract,
    )


@require_safe
def contract_detail(request, contract):
    contract = get_contract_for_user(request, contract)
    self_evaluation = (
        SelfEvaluation.objects.filter(contract=contract).select_related("campaign").latest_first().first()
    )
    today = timezone.localdate()
    can = abilities(self_evaluation, role=role_in_ej(request.user, contract.ej), today=today)
    days_left = self_evaluation.days_left(today) if self_evaluation and self_evaluation.is_open_on(today) else None
    context = {
        "contract": contract,
        "self_evaluation": self_evaluation,
        "can": can,
        "days_left": days_left,
        "deadline_warning": days_left is not None and days_left <= DEADLINE_WARNING_DAYS,
        **_documents_context(request, contract),
        "support_region": contract.ej.region,
    }
    return render(request, "contracts/contract_detail.html", context)


def _documents_context(request, contract) -> dict:
    """« Documents du contrat »: the list, the ARS's upload form, the archive link."""
    documents = Document.objects.filter(contract=contract).select_related("uploaded_by").order_by("-uploaded_at")
    user = request.user
    return {
        "documents": [(document, may_download(document, user)) for document in documents],
        "has_any_document": Document.objects.filter(
            Q(contract=contract) | Q(attachments__indicator_value__self_evaluation__contract=contract)
        ).exists(),
        "may_add_documents": may_add_contract_documents(user, contract),
        "show_macros": user.is_agency_staff or user.is_superuser,
        "scanning": scanning_enabled(),
        "upload_token": uuid.uuid4(),
        "accept": ACCEPT_ATTRIBUTE,
        "accepted_formats": ACCEPTED_FORMATS,
    }


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
