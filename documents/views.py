"""Documents of a contract (« Documents du contrat »), their downloads and the contract's ZIP archive.

Every page looks the document or the contract up among those the user may see, and answers 404
otherwise. Uploads run outside the request's transaction: each file is stored, then committed in its
own short transaction (documents.services). The question's documents belong to an app built on this
one; they reach the contract's archive through documents/hooks.py.
"""

import hashlib
import hmac
import logging
import tempfile

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from contracts.models import Contract
from documents import hooks, services
from documents.archive import CHUNK_SIZE
from documents.http import upload_token, why_not, zip_response
from documents.models import Document
from documents.names import contract_file_name
from documents.perms import may_add_contract_documents, may_download
from documents.validation import UploadRefused
from ecars.lib.http import protect_user_file, request_context
from ecars.lib.logs import note_ej


logger = logging.getLogger(__name__)


def _contract_for_user(request, contract) -> Contract:
    """The contract of public id `contract` if the user may see it; 404 otherwise (never 403)."""
    found = get_object_or_404(Contract.objects.for_user(request.user).select_related("ej"), public_id=contract)
    note_ej(request, found.ej)
    return found


# « Documents du contrat »


@transaction.non_atomic_requests
@require_POST
def contract_upload(request, contract):
    """« Ajouter document » of the contract page: ARS staff of the contract's region."""
    contract = _contract_for_user(request, contract)
    files = request.FILES.getlist("documents")
    back = redirect(reverse("contracts:contract_detail", args=[contract.public_id]) + "#documents")
    if not may_add_contract_documents(request.user, contract):
        raise Http404
    if not files:
        messages.error(request, "Choisissez au moins un fichier à ajouter.")
        return back
    token = upload_token(request)
    context = request_context(request)
    for uploaded_file in files:
        try:
            document = services.upload_to_contract(
                uploaded_file, contract=contract, acting_user=request.user, upload_token=token, context=context
            )
        except UploadRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"« {document.original_name} » a été ajouté aux documents du contrat.")
    return back


@require_safe
def contract_zip(request, contract):
    """« Récupérer tous les documents » of the contract: its own, then those the apps built on `documents`
    add (each year's questions, by question code)."""
    contract = _contract_for_user(request, contract)
    contract_documents = Document.objects.filter(contract=contract).order_by("uploaded_at", "pk")
    entries = [(f"Documents du contrat/{document.original_name}", document) for document in contract_documents]
    for more in hooks.contract_archive_entries.collect(contract):
        entries.extend(more)
    filename = contract_file_name("documents", contract, hooks.contract_year.first(contract), extension="zip")
    return zip_response(request, entries, filename=filename)


# Downloads


@require_safe
def download(request, document):
    """A document, for whoever may see its EJ: checked against its SHA-256, sent as an attachment."""
    document = get_object_or_404(
        Document.objects.for_user(request.user).select_related("ej__region"), public_id=document
    )
    note_ej(request, document.ej)
    if not may_download(document, request.user):
        return render(
            request,
            "documents/unavailable.html",
            {"document": document, "reason": why_not(document), "support_region": document.ej.region},
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
