"""Documents of a question (« Documents de l'indicateur ») and of a contract (« Documents du contrat »),
their downloads and their ZIP archives.

Every page looks the document, the question or the contract up among those the user may see, and
answers 404 otherwise. Uploads run outside the request's transaction: each file is stored, then
committed in its own short transaction (documents.services).
"""

import hashlib
import hmac
import logging
import re
import tempfile
import uuid

from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe

from contracts.views.contract import get_contract_for_user
from documents import services
from documents.antivirus import may_download, scanning_enabled
from documents.archive import CHUNK_SIZE, Member, stream_zip
from documents.enums import ScanStatus
from documents.models import Attachment, Document
from documents.validation import ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS, UploadRefused
from ecars.lib.http import client_ip, protect_user_file
from evaluation.perms import abilities, role_in_ej
from evaluation.views.common import get_question_value, get_self_evaluation_for_user, question_url


logger = logging.getLogger(__name__)

# The fetch() of static/js/documents.js asks for the block alone, to update it in place.
FRAGMENT_HEADER = "X-Ecars-Fragment"


def _upload_token(request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("jeton", ""))
    except ValueError:
        return None


# « Documents de l'indicateur »


def question_block(request, value, *, can_write: bool, results=()) -> dict:
    """The context of the block under a question: its list, and what this user may do there."""
    attachments = list(
        Attachment.objects.filter(indicator_value=value, withdrawn_at__isnull=True)
        .select_related("document", "attached_by")
        .order_by("attached_at", "pk")
    )
    user = request.user
    # Documents of earlier years are never withdrawn, even if their self-evaluation were reopened.
    is_current = can_write and value.self_evaluation.is_current()
    rows = [
        {
            "attachment": attachment,
            "document": attachment.document,
            "downloadable": may_download(attachment.document, user),
            "may_withdraw": can_write and is_current and attachment.attached_by_id == user.pk,
        }
        for attachment in attachments
    ]
    attachable = []
    if can_write:
        attachable = list(
            services.attachable_documents(value)
            .prefetch_related(
                Prefetch(
                    "attachments",
                    queryset=Attachment.objects.select_related(
                        "indicator_value__indicator", "indicator_value__self_evaluation__campaign"
                    ).order_by("attached_at"),
                )
            )
            .order_by("-uploaded_at")
        )
    return {
        "value": value,
        "rows": rows,
        "can_add": can_write,
        "show_macros": user.is_agency_staff or user.is_superuser,
        "scanning": scanning_enabled(),
        "attachable": [(document, _where(document)) for document in attachable],
        "accept": ACCEPT_ATTRIBUTE,
        "accepted_formats": ACCEPTED_FORMATS,
        "upload_token": uuid.uuid4(),
        "results": results,
        "et": value.etablissement.finess if value.etablissement else "",
    }


def _where(document) -> str:
    """« IND-1 (2025), IND-4 (2026) »: the questions a document already supports."""
    seen = []
    for attachment in document.attachments.all():
        value = attachment.indicator_value
        label = f"{value.indicator.code} ({value.self_evaluation.campaign.year})"
        if label not in seen:
            seen.append(label)
    return ", ".join(seen)


def _question(request, self_evaluation, code):
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    value = get_question_value(self_evaluation, code, request.GET.get("et") or request.POST.get("et"))
    can = abilities(self_evaluation, role=role_in_ej(request.user, self_evaluation.contract.ej))
    return value, can


def _wants_fragment(request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "documents"


def _answer(request, value, can, results, *, status=200):
    """The block alone for the page's script; otherwise the messages and back to the question."""
    if _wants_fragment(request):
        block = question_block(request, value, can_write=can.write, results=results)
        return render(request, "documents/_question_documents.html", {"block": block}, status=status)
    for level, text in results:
        messages.add_message(request, messages.SUCCESS if level == "success" else messages.ERROR, text)
    return redirect(question_url(value, anchor="documents"))


@transaction.non_atomic_requests
@require_POST
def question_upload(request, self_evaluation, code):
    """« Ajouter document »: each file is checked and stored on its own; the refused ones say why."""
    value, can = _question(request, self_evaluation, code)
    files = request.FILES.getlist("documents")
    if not files:
        return _answer(request, value, can, [("error", "Choisissez au moins un fichier à ajouter.")], status=400)
    results = []
    token = _upload_token(request)
    for uploaded_file in files:
        try:
            document = services.upload_to_question(
                uploaded_file, value=value, acting_user=request.user, upload_token=token, ip_address=client_ip(request)
            )
        except services.WriteRefused as refusal:
            return _refused(request, value, can, str(refusal))
        except UploadRefused as refusal:
            results.append(("error", str(refusal)))
        else:
            results.append(("success", f"« {document.original_name} » a été ajouté."))
    all_refused = all(level == "error" for level, _ in results)
    return _answer(request, value, can, results, status=400 if all_refused else 200)


def _refused(request, value, can, reason):
    """Nothing may be added now (closed, calendar, role): 409, with the reason, and nothing stored."""
    if _wants_fragment(request):
        block = question_block(request, value, can_write=False, results=[("error", reason)])
        return render(request, "documents/_question_documents.html", {"block": block}, status=409)
    context = {
        "reason": reason,
        "back_url": question_url(value, anchor="documents"),
        "support_region": value.self_evaluation.contract.ej.region,
    }
    return render(request, "documents/refused.html", context, status=409)


@require_POST
def question_attach(request, self_evaluation, code):
    """« Joindre un document déjà déposé »: one more question for a document already stored."""
    value, can = _question(request, self_evaluation, code)
    try:
        public_id = uuid.UUID(request.POST.get("document", ""))
    except ValueError:
        return _answer(request, value, can, [("error", "Choisissez le document à joindre.")], status=400)
    document = get_object_or_404(Document.objects.for_user(request.user), public_id=public_id)
    try:
        services.attach_existing(document, value=value, acting_user=request.user, ip_address=client_ip(request))
    except services.WriteRefused as refusal:
        return _refused(request, value, can, str(refusal))
    except services.DocumentRefused as refusal:
        return _answer(request, value, can, [("error", str(refusal))], status=400)
    return _answer(request, value, can, [("success", f"« {document.original_name} » a été joint à la question.")])


@require_POST
def question_withdraw(request, self_evaluation, code, document):
    """« Retirer »: the document leaves this question's list; it stays stored and in the history."""
    value, can = _question(request, self_evaluation, code)
    attachment = get_object_or_404(
        Attachment.objects.select_related("document", "indicator_value__indicator"),
        indicator_value=value,
        document__public_id=document,
        withdrawn_at__isnull=True,
    )
    attachment.indicator_value = value
    try:
        services.withdraw(attachment, acting_user=request.user, ip_address=client_ip(request))
    except services.WriteRefused as refusal:
        return _refused(request, value, can, str(refusal))
    except services.DocumentRefused as refusal:
        return _answer(request, value, can, [("error", str(refusal))], status=400)
    return _answer(
        request,
        value,
        can,
        [("success", f"« {attachment.document.original_name} » a été retiré de la question ; il reste conservé.")],
    )


@require_safe
def question_zip(request, self_evaluation, code):
    """« Récupérer tous les documents » of one question."""
    value, _ = _question(request, self_evaluation, code)
    documents = [
        attachment.document
        for attachment in Attachment.objects.filter(indicator_value=value, withdrawn_at__isnull=True)
        .select_related("document")
        .order_by("attached_at", "pk")
    ]
    included, excluded = _split_downloadable(documents, request.user)
    members = [Member(document.original_name, document) for document in included]
    name = f"documents-{re.sub(r'[^A-Za-z0-9._-]+', '-', value.indicator.code).strip('.-') or 'question'}"
    if value.etablissement:
        name += f"-{value.etablissement.finess}"
    return _zip_response(members, excluded, filename=f"{name}.zip")


# « Documents du contrat »


@transaction.non_atomic_requests
@require_POST
def contract_upload(request, contract):
    """« Ajouter document » of the contract page: ARS staff of the contract's region."""
    contract = get_contract_for_user(request, contract)
    files = request.FILES.getlist("documents")
    back = redirect(reverse("contracts:contract_detail", args=[contract.public_id]) + "#documents")
    if not services.may_add_contract_documents(request.user, contract):
        raise Http404
    if not files:
        messages.error(request, "Choisissez au moins un fichier à ajouter.")
        return back
    token = _upload_token(request)
    for uploaded_file in files:
        try:
            document = services.upload_to_contract(
                uploaded_file,
                contract=contract,
                acting_user=request.user,
                upload_token=token,
                ip_address=client_ip(request),
            )
        except UploadRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"« {document.original_name} » a été ajouté aux documents du contrat.")
    return back


@require_safe
def contract_zip(request, contract):
    """« Récupérer tous les documents » of the contract: its own, then each year's, by question code."""
    contract = get_contract_for_user(request, contract)
    contract_documents = list(Document.objects.filter(contract=contract).order_by("uploaded_at", "pk"))
    attachments = (
        Attachment.objects.filter(indicator_value__self_evaluation__contract=contract, withdrawn_at__isnull=True)
        .select_related(
            "document",
            "indicator_value__indicator",
            "indicator_value__etablissement",
            "indicator_value__self_evaluation__campaign",
        )
        .order_by(
            "indicator_value__self_evaluation__campaign__year", "indicator_value__indicator__code", "attached_at"
        )
    )
    paths = [(f"Documents du contrat/{document.original_name}", document) for document in contract_documents]
    for attachment in attachments:
        value = attachment.indicator_value
        folder = value.indicator.code
        if value.etablissement:
            folder += f" - {value.etablissement.finess}"
        year = value.self_evaluation.campaign.year
        paths.append((f"{year}/{folder}/{attachment.document.original_name}", attachment.document))
    included, excluded = _split_downloadable([document for _, document in paths], request.user)
    included_ids = {document.pk for document in included}
    members = [Member(path, document) for path, document in paths if document.pk in included_ids]
    filename = f"documents-contrat-{slugify(contract.code or contract.name)[:60] or 'contrat'}.zip"
    return _zip_response(members, excluded, filename=filename)


# Downloads


def _split_downloadable(documents, user):
    included, excluded = [], []
    for document in documents:
        (included if may_download(document, user) else excluded).append(document)
    return included, excluded


def _zip_response(members, excluded, *, filename):
    notes = ""
    if excluded:
        lines = [f"- {document.original_name} ({_why_not(document)})" for document in excluded]
        notes = "Documents non inclus dans cette archive :\r\n" + "\r\n".join(lines) + "\r\n"
    response = StreamingHttpResponse(stream_zip(members, notes=notes), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return protect_user_file(response)


def _why_not(document) -> str:
    """Why `may_download` says no, to end « … ne peut pas être téléchargé : » and the archive's LISEZMOI.txt."""
    if document.scan_status == ScanStatus.INFECTE:
        return "mis en quarantaine : l'antivirus y a détecté un virus"
    if document.scan_status == ScanStatus.ERREUR:
        return "l'analyse antivirus n'a pas pu aboutir, elle sera refaite"
    return "en cours d'analyse antivirus"


@require_safe
def download(request, document):
    """A document, for whoever may see its EJ: checked against its SHA-256, sent as an attachment."""
    document = get_object_or_404(
        Document.objects.for_user(request.user).select_related("ej__region"), public_id=document
    )
    if not may_download(document, request.user):
        return render(
            request,
            "documents/unavailable.html",
            {"document": document, "reason": _why_not(document), "support_region": document.ej.region},
            status=423,
        )
    copy = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    digest = hashlib.sha256()
    try:
        with document.file.open("rb") as source:
            while chunk := source.read(CHUNK_SIZE):
                digest.update(chunk)
                copy.write(chunk)
        document.file.close()
    except Exception:
        logger.exception("Document %s illisible dans le stockage.", document.public_id)
        copy.close()
        return _storage_unavailable(request, document)
    if not hmac.compare_digest(digest.hexdigest(), document.sha256):
        logger.error("Document %s altéré : son empreinte ne correspond plus à celle du dépôt.", document.public_id)
        copy.close()
        return _storage_unavailable(request, document)
    copy.seek(0)
    response = FileResponse(copy, as_attachment=True, filename=document.original_name, content_type=document.mime_type)
    return protect_user_file(response)


def _storage_unavailable(request, document):
    """Never serve a file that is not the one deposited, nor a stack trace: a page that says so."""
    return render(
        request,
        "documents/unavailable.html",
        {"document": document, "reason": "", "support_region": document.ej.region},
        status=503,
    )
