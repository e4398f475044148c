"""« Importer un référentiel »: upload an XLSX or CSV file, read its preview, confirm (ReferentialAdmin's URLs).

The same service as `manage.py import_referential` (evaluation.referential_import) checks and writes. For national
administrators only (`import` on evaluation.referential); any other role gets a 403.

Between the preview and « Confirmer l'import », the uploaded bytes wait in the user's session (stored in the
database, gone with the session), with their SHA-256; the confirmation form carries the SHA-256 it previewed, and
the import runs only if the stored bytes still have that hash: what is imported is what was previewed, even if
another upload in another tab came in between (that one wins, and the older preview is refused).
"""

import base64
import hashlib
from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from contracts.models import ContractType
from ecars.admin import admin_page, describe_errors
from ecars.lib.http import request_context
from evaluation import referential_import
from evaluation.referential_import import MAX_BYTES, ReferentialImportError


SESSION_KEY = "evaluation_referential_import"
INFO = "evaluation_referential"
EXPIRED = (
    "Cet aperçu n'est plus celui du fichier en attente (session expirée, ou autre fichier déposé depuis) : rien n'a "
    "été importé. Déposez à nouveau le fichier."
)


def urls(model_admin) -> list:
    def view(function, *decorators):
        return admin_page(model_admin, function, *decorators, verb="import")

    return [
        path("importer/", view(upload, require_http_methods(["GET", "POST"])), name=f"{INFO}_import"),
        path("importer/confirmer/", view(confirm, require_POST), name=f"{INFO}_import_confirm"),
    ]


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Fichier du référentiel",
        help_text=(
            "Classeur .xlsx (première feuille) ou fichier .csv en UTF-8, séparateur « , » ou « ; », une ligne "
            f"d'en-tête ; {MAX_BYTES // 1024} Ko au plus."
        ),
        error_messages={"required": "Choisissez le fichier du référentiel.", "empty": "Le fichier est vide."},
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    contract_type = forms.ModelChoiceField(
        label="Type de contrat",
        queryset=ContractType.objects.order_by("code"),
        error_messages={"required": "Choisissez le type de contrat du référentiel."},
    )
    name = forms.CharField(
        label="Nom du référentiel",
        required=False,
        max_length=referential_import.NAME_MAX_LENGTH,
        help_text="Par défaut, le nom du fichier. Un nom déjà employé pour ce type de contrat en crée une nouvelle "
        "version.",
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > MAX_BYTES:
            raise forms.ValidationError(
                f"Le fichier fait {uploaded.size // 1024} Ko : {MAX_BYTES // 1024} Ko au plus."
            )
        return uploaded


class ConfirmForm(forms.Form):
    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)


def _context(model_admin, request, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Importer un référentiel",
        "max_kb": MAX_BYTES // 1024,
        **extra,
    }


def _render_upload(model_admin, request, form, *, errors=(), status=200):
    describe_errors(form)
    rows = [referential_import.split_error(error) for error in errors]
    context = _context(model_admin, request, form=form, file_errors=rows)
    return TemplateResponse(request, "admin/evaluation/referential/import.html", context, status=status)


def upload(model_admin, request):
    """GET: the upload form. POST: the preview of the uploaded file, or the form with every error of the file."""
    if request.method == "GET":
        return _render_upload(model_admin, request, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(model_admin, request, form, status=400)
    uploaded = form.cleaned_data["file"]
    content = uploaded.read()
    filename = PurePath(uploaded.name).name
    contract_type = form.cleaned_data["contract_type"]
    name = form.cleaned_data["name"].strip() or PurePath(filename).stem
    parsed = referential_import.read_referential(content, filename=filename)
    errors = referential_import.check_name(name) + parsed.errors
    if errors:
        form.add_error(
            "file",
            f"Le fichier contient {len(errors)} erreur(s), listées ci-dessous avec leur ligne : rien n'a été "
            "importé. Corrigez-le puis déposez-le à nouveau.",
        )
        return _render_upload(model_admin, request, form, errors=errors, status=400)
    outcome = referential_import.plan_import(parsed, contract_type=contract_type, name=name)
    if outcome.created:
        request.session[SESSION_KEY] = {
            "sha256": parsed.file_sha256,
            "content": base64.b64encode(content).decode("ascii"),
            "filename": filename,
            "contract_type": contract_type.pk,
            "name": name,
        }
    else:
        request.session.pop(SESSION_KEY, None)
    context = _context(
        model_admin,
        request,
        title="Aperçu de l'import du référentiel",
        parsed=parsed,
        outcome=outcome,
        filename=filename,
        contract_type=contract_type,
        name=name,
        confirm_form=ConfirmForm(initial={"sha256": parsed.file_sha256}) if outcome.created else None,
    )
    return TemplateResponse(request, "admin/evaluation/referential/import_preview.html", context)


def confirm(model_admin, request):
    """« Confirmer l'import »: import the bytes previewed, if they are still the ones waiting in the session."""
    form = ConfirmForm(request.POST)
    pending = request.session.get(SESSION_KEY)
    if not form.is_valid() or not pending or pending.get("sha256") != form.cleaned_data["sha256"]:
        messages.error(request, EXPIRED)
        return redirect(reverse(f"admin:{INFO}_import"))
    content = base64.b64decode(pending["content"])
    contract_type = ContractType.objects.filter(pk=pending["contract_type"]).first()
    if hashlib.sha256(content).hexdigest() != pending["sha256"] or contract_type is None:
        request.session.pop(SESSION_KEY, None)
        messages.error(request, EXPIRED)
        return redirect(reverse(f"admin:{INFO}_import"))
    try:
        outcome = referential_import.import_referential(
            content,
            filename=pending["filename"],
            contract_type=contract_type,
            name=pending["name"],
            acting_user=request.user,
            context=request_context(request),
        )
    except ReferentialImportError as refused:
        # The file was fine at the preview; something it refers to (a region) changed since.
        request.session.pop(SESSION_KEY, None)
        form = UploadForm(initial={"contract_type": contract_type, "name": pending["name"]})
        return _render_upload(model_admin, request, form, errors=refused.errors, status=400)
    request.session.pop(SESSION_KEY, None)
    referential = outcome.referential
    if outcome.created:
        messages.success(
            request,
            f"Référentiel « {referential.name} » ({contract_type.code}) version {referential.version} importé : "
            f"{len(outcome.file.nodes)} nœuds, dont {outcome.file.indicator_count} indicateurs.",
        )
    else:
        messages.info(
            request,
            f"Rien n'a été importé : le référentiel « {referential.name} » version {referential.version} a déjà "
            "exactement ce contenu.",
        )
    return redirect(reverse(f"admin:{INFO}_change", args=[referential.pk]))
