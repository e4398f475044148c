"""Pré-campagne: « Validation/actualisation des données identification : nombre de lits et SI » of an ET."""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods

from audit.enums import EventType
from audit.models import AuditEvent
from contracts import services
from contracts.forms import BED_FIELDS, SOFTWARE_FIELDS, IdentificationForm
from contracts.hooks import precampaign
from contracts.models import IdentificationData
from contracts.perms import identification_abilities, role_in_ej
from contracts.services import IDENTIFICATION_FIELDS
from contracts.views.contract import get_contract_for_user
from ecars.lib.display import show
from ecars.lib.http import request_context


@dataclass(frozen=True)
class Row:
    label: str
    value: str


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    changes: list[Change]


def _label(field_name: str) -> str:
    try:
        return capfirst(IdentificationData._meta.get_field(field_name).verbose_name)
    except FieldDoesNotExist:  # a field removed since the event was recorded
        return field_name


# Changes are listed in the order of the form (the database keeps JSON keys in its own order).
_FORM_POSITION = {field: position for position, field in enumerate(IDENTIFICATION_FIELDS)}


def _form_order(item) -> tuple[int, str]:
    field = item[0]
    return (_FORM_POSITION.get(field, len(_FORM_POSITION)), field)


def _rows(identification: IdentificationData, fields) -> list[Row]:
    return [Row(_label(field), show(getattr(identification, field))) for field in fields]


def _history(identification: IdentificationData | None) -> list[HistoryEntry]:
    """The validations of these data, newest first, with what each changed (one query)."""
    if identification is None or identification.pk is None:
        return []
    events = (
        AuditEvent.objects.filter(
            event_type=EventType.IDENTIFICATION_VALIDATED,
            object_type=IdentificationData._meta.label,
            object_id=str(identification.pk),
        )
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    return [
        HistoryEntry(
            event=event,
            changes=[
                Change(_label(field), show(old), show(new))
                for field, (old, new) in sorted((event.data.get("changes") or {}).items(), key=_form_order)
            ],
        )
        for event in events
    ]


@require_http_methods(["GET", "HEAD", "POST"])
def identification(request, contract, etablissement):
    """An ET's identification data for the year of the contract's current campaign: a signataire of the EJ
    validates or updates them while the pré-campagne is open; everybody else reads them."""
    contract = get_contract_for_user(request, contract)
    etablissement = get_object_or_404(contract.etablissements.select_related("ej"), public_id=etablissement)
    today = timezone.localdate()
    # The campaigns belong to the app built on contracts that follows them (contracts/hooks.py).
    window = precampaign.first(contract, today)
    identification = None
    if window is not None:
        identification = IdentificationData.objects.filter(
            etablissement=etablissement, year=window.year
        ).select_related("validated_by").first() or IdentificationData(etablissement=etablissement, year=window.year)
    can = identification_abilities(window, role=role_in_ej(request.user, contract.ej), today=today)
    if request.method == "POST" and not can.validate:
        raise PermissionDenied(can.reason)

    form = IdentificationForm(data=request.POST or None, instance=identification) if can.validate else None
    if request.method == "POST" and form.is_valid():
        services.validate_identification(
            identification, form.cleaned_data, acting_user=request.user, context=request_context(request)
        )
        messages.success(request, "Données d'identification validées.")
        return redirect("contracts:identification", contract=contract.public_id, etablissement=etablissement.public_id)

    read_only = identification is not None and form is None
    context = {
        "contract": contract,
        "etablissement": etablissement,
        "precampaign": window,
        "identification": identification,
        "can": can,
        "form": form,
        "bed_rows": _rows(identification, BED_FIELDS) if read_only else [],
        "software_rows": _rows(identification, SOFTWARE_FIELDS) if read_only else [],
        "history": _history(identification),
        "support_region": contract.ej.region,
    }
    return render(request, "contracts/identification.html", context)
