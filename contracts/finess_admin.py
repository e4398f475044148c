"""« Importer le fichier FINESS »: upload the extract, read the preview of what will change, confirm
(the URLs of contracts.admin.EntiteJuridiqueAdmin, linked from the EJ list).

The same service as `manage.py import_finess` (contracts.finess_import) checks, plans and writes. For national
administrators only (`import` on contracts.entitejuridique, ecars/privileges.py); any other role gets a 403.

Between the preview and « Confirmer l'import », the uploaded bytes (up to 20 Mo, the web server's limit: a
national extract goes compressed in .gz) wait in a private temporary file named by a random token, in
FILE_UPLOAD_TEMP_DIR or else the system's temporary folder (with several web servers, that folder must be
shared). The session keeps only the token, the content's SHA-256 and the digest of the plan shown. The
confirmation reads the file back, checks its SHA-256, and applies the plan only if, recomputed under the
import's lock, it is still exactly the one previewed; otherwise nothing is written and the user starts again.
A new upload replaces the pending one; files left behind are deleted after SESSION_ABSOLUTE_LIFETIME.
"""

import hashlib
import os
import re
import secrets
import tempfile
import time
from pathlib import Path, PurePath

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from contracts import finess_import
from ecars.admin import admin_page, describe_errors
from ecars.lib.http import request_context


INFO = "contracts_entitejuridique"
SESSION_KEY = "contracts_finess_import"
# The web server's request limit (SECURITY.md D6) and Django's upload handler's: bigger files go compressed.
MAX_UPLOAD_SIZE = 20 * 1024 * 1024
# Rows of each table of the preview, and bad lines listed (the command lists them all).
DETAILS_SHOWN = 200
ERRORS_SHOWN = 1000
_TOKEN_RE = re.compile(r"[0-9a-f]{32}")
EXPIRED = (
    "Aucun import FINESS n'est en attente de confirmation (aperçu expiré, ou autre fichier déposé depuis) : "
    "rien n'a été importé. Déposez à nouveau le fichier."
)


def urls(model_admin) -> list:
    def view(function, *decorators):
        return admin_page(model_admin, function, *decorators, verb="import")

    return [
        path("import-finess/", view(upload, require_http_methods(["GET", "POST"])), name=f"{INFO}_import_finess"),
        path("import-finess/confirmer/", view(confirm, require_POST), name=f"{INFO}_import_finess_confirm"),
    ]


# --- The form ----------------------------------------------------------------------------------------


class FinessUploadForm(forms.Form):
    file = forms.FileField(
        label="Fichier FINESS",
        help_text=(
            "L'extraction etalab du fichier des établissements telle que publiée (CSV séparé par des points-virgules, "
            f"encodé en ISO-8859-1), ou ce fichier compressé en .gz ; {MAX_UPLOAD_SIZE // (1024 * 1024)} Mo au plus."
        ),
        error_messages={"required": "Choisissez le fichier FINESS à importer.", "empty": "Le fichier est vide."},
        widget=forms.FileInput(attrs={"accept": ".csv,.txt,.gz"}),
    )

    def clean_file(self) -> bytes:
        uploaded = self.cleaned_data["file"]
        if uploaded.size > MAX_UPLOAD_SIZE:
            raise ValidationError(
                f"Le fichier dépasse {MAX_UPLOAD_SIZE // (1024 * 1024)} Mo : compressez-le en .gz (gzip) ou "
                "importez-le avec la commande manage.py import_finess."
            )
        raw = uploaded.read()
        if len(raw) != uploaded.size:
            raise ValidationError("Le fichier n'a pas été reçu en entier : déposez-le de nouveau.")
        self.file_name = PurePath(uploaded.name or "").name[:200]
        return raw


# --- The pending file --------------------------------------------------------------------------------


def _folder() -> Path:
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()) / "ecars-finess-import"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    """Delete the pending files older than any session."""
    oldest = time.time() - settings.SESSION_ABSOLUTE_LIFETIME
    for entry in folder.iterdir():
        try:
            if _TOKEN_RE.fullmatch(entry.name) and entry.stat().st_mtime < oldest:
                entry.unlink(missing_ok=True)
        except OSError:
            continue


def _store(raw: bytes) -> str:
    folder = _folder()
    _sweep(folder)
    token = secrets.token_hex(16)
    descriptor = os.open(folder / token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as pending:
        pending.write(raw)
    return token


def _load(token: str) -> bytes | None:
    if not _TOKEN_RE.fullmatch(token):
        return None
    try:
        return (_folder() / token).read_bytes()
    except FileNotFoundError:
        return None


def _discard(request) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if pending and _TOKEN_RE.fullmatch(pending.get("token", "")):
        (_folder() / pending["token"]).unlink(missing_ok=True)


# --- Views -------------------------------------------------------------------------------------------


def _context(model_admin, request, title: str, **extra) -> dict:
    request.current_app = model_admin.admin_site.name
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        **extra,
    }


def _upload_page(model_admin, request, form, *, status=200, refused=None, file_name=""):
    describe_errors(form)
    errors = refused.errors if refused else []
    context = _context(
        model_admin,
        request,
        "Importer le fichier FINESS",
        form=form,
        file_name=file_name,
        file_errors=errors[:ERRORS_SHOWN],
        error_count=len(errors),
        hidden_errors=max(0, len(errors) - ERRORS_SHOWN),
    )
    return TemplateResponse(request, "admin/contracts/entitejuridique/import_finess.html", context, status=status)


def _section(title: str, items: list) -> dict:
    return {"title": title, "items": items[:DETAILS_SHOWN], "total": len(items)}


def upload(model_admin, request):
    """The form; a POST checks the whole file and shows the plan (or every bad line), writing nothing."""
    if request.method != "POST":
        return _upload_page(model_admin, request, FinessUploadForm())
    form = FinessUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(model_admin, request, form, status=400)
    raw = form.cleaned_data["file"]
    try:
        parsed = finess_import.parse_extract(finess_import.read_extract(raw))
        plan = finess_import.compute_plan(parsed)
    except finess_import.FinessImportRefused as refused:
        _discard(request)
        return _upload_page(
            model_admin, request, FinessUploadForm(), status=400, refused=refused, file_name=form.file_name
        )
    _discard(request)
    token = ""
    if plan.has_changes:
        token = _store(raw)
        request.session[SESSION_KEY] = {
            "token": token,
            "sha256": plan.sha256,
            "digest": plan.digest,
            "file_name": form.file_name,
        }
    context = _context(
        model_admin,
        request,
        "Aperçu de l'import FINESS",
        plan=plan,
        token=token,
        file_name=form.file_name,
        counts=plan.counts(),
        skipped=sorted(plan.skipped.items()),
        regions=_section("Régions à créer", plan.regions_to_create),
        ej_to_create=_section("EJ à créer", plan.ej_to_create),
        ej_to_update=_section("EJ à mettre à jour", plan.ej_to_update),
        et_to_create=_section("ET à créer", plan.et_to_create),
        et_to_update=_section("ET à mettre à jour", plan.et_to_update),
        warnings=plan.warnings[:ERRORS_SHOWN],
        hidden_warnings=max(0, len(plan.warnings) - ERRORS_SHOWN),
    )
    return TemplateResponse(request, "admin/contracts/entitejuridique/import_finess_preview.html", context)


def confirm(model_admin, request):
    """« Confirmer l'import »: the pending file, if it is still the one previewed, through the same service."""
    upload_url = reverse(f"admin:{INFO}_import_finess")
    pending = request.session.get(SESSION_KEY)
    token = request.POST.get("token", "")
    if not pending or not secrets.compare_digest(token, pending.get("token", "")):
        messages.error(request, EXPIRED)
        return redirect(upload_url)
    raw = _load(token)
    if raw is None:
        _discard(request)
        messages.error(request, EXPIRED)
        return redirect(upload_url)
    try:
        content = finess_import.read_extract(raw)
        if hashlib.sha256(content).hexdigest() != pending["sha256"]:
            raise finess_import.FinessImportRefused(
                [finess_import.LineError(None, "Le fichier en attente n'est plus celui de l'aperçu.")]
            )
        parsed = finess_import.parse_extract(content)
        plan = finess_import.apply_import(
            parsed,
            acting_user=request.user,
            context=request_context(request),
            expected_digest=pending["digest"],
            source="admin",
            file_name=pending.get("file_name", ""),
        )
    except finess_import.PlanChanged as changed:
        _discard(request)
        messages.error(request, str(changed))
        return redirect(upload_url)
    except finess_import.FinessImportRefused as refused:
        _discard(request)
        messages.error(request, "Import refusé, rien n'a été importé : " + " ".join(map(str, refused.errors[:5])))
        return redirect(upload_url)
    _discard(request)
    done = ", ".join(f"{label} : {count}" for label, count in plan.counts(done=True).items())
    messages.success(request, f"Import FINESS effectué ({pending.get('file_name') or 'fichier'}) — {done}.")
    return redirect(reverse(f"admin:{INFO}_changelist"))
