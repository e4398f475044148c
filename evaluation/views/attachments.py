"""« Documents de l'indicateur »: the block under a question, adding, attaching, withdrawing, and the
question's ZIP archive.

Every page looks the question up among those the user may see, and answers 404 otherwise. Uploads run
outside the request's transaction: each file is stored, then committed in its own short transaction
(evaluation.attachments, on documents.services).
"""

import uuid

from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from documents.antivirus import scanning_enabled
from documents.http import upload_token, zip_response
from documents.models import Document
from documents.names import contract_file_name
from documents.perms import may_download
from documents.validation import ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS, UploadRefused
from ecars.lib.http import request_context
from evaluation import attachments
from evaluation.display import question_url
from evaluation.models import Attachment
from evaluation.perms import Abilities, abilities_for
from evaluation.views.common import get_question_value, get_self_evaluation_for_user


# The fetch() of static/js/documents.js asks for the block alone, to update it in place.
FRAGMENT_HEADER = "X-Ecars-Fragment"
BLOCK_TEMPLATE = "evaluation/_question_documents.html"


def question_block(request, value, *, can: Abilities, results=()) -> dict:
    """The context of the block under a question: its list, and what this user may do there.

    The rule is the question's (`can.edit(value)`): nothing to add, attach or withdraw on a question that the
    establishment does not answer, nor when writing is closed to this user.
    """
    can_write = can.edit(value)
    listed = list(
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
        for attachment in listed
    ]
    attachable = []
    if can_write:
        attachable = list(
            attachments.attachable_documents(value)
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
    can = abilities_for(self_evaluation, request.user)
    return value, can


def _wants_fragment(request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "documents"


def _answer(request, value, can, results, *, status=200):
    """The block alone for the page's script; otherwise the messages and back to the question."""
    if _wants_fragment(request):
        block = question_block(request, value, can=can, results=results)
        return render(request, BLOCK_TEMPLATE, {"block": block}, status=status)
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
    token = upload_token(request)
    context = request_context(request)
    for uploaded_file in files:
        try:
            document = attachments.upload_to_question(
                uploaded_file, value=value, acting_user=request.user, upload_token=token, context=context
            )
        except attachments.WriteRefused as refusal:
            return _refused(request, value, str(refusal), action="upload")
        except UploadRefused as refusal:
            results.append(("error", str(refusal)))
        else:
            results.append(("success", f"« {document.original_name} » a été ajouté."))
    all_refused = all(level == "error" for level, _ in results)
    return _answer(request, value, can, results, status=400 if all_refused else 200)


def _refused(request, value, reason, *, action):
    """Nothing may be changed now (closed, calendar, role, a question the establishment does not answer):
    409, with the reason, and nothing stored (the service has audited the refusal)."""
    if _wants_fragment(request):
        block = question_block(request, value, can=Abilities(), results=[("error", reason)])
        return render(request, BLOCK_TEMPLATE, {"block": block}, status=409)
    context = {
        "action": action,  # the page's title and what it says was kept
        "reason": reason,
        "back_url": question_url(value, anchor="documents"),
        "support_region": value.self_evaluation.contract.ej.region,
    }
    return render(request, "evaluation/document_refused.html", context, status=409)


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
        attachments.attach_existing(document, value=value, acting_user=request.user, context=request_context(request))
    except attachments.WriteRefused as refusal:
        return _refused(request, value, str(refusal), action="attach")
    except attachments.DocumentRefused as refusal:
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
        attachments.withdraw(attachment, acting_user=request.user, context=request_context(request))
    except attachments.WriteRefused as refusal:
        return _refused(request, value, str(refusal), action="withdraw")
    except attachments.DocumentRefused as refusal:
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
    listed = (
        Attachment.objects.filter(indicator_value=value, withdrawn_at__isnull=True)
        .select_related("document")
        .order_by("attached_at", "pk")
    )
    entries = [(attachment.document.original_name, attachment.document) for attachment in listed]
    self_evaluation = value.self_evaluation
    filename = contract_file_name(
        "documents",
        self_evaluation.contract,
        self_evaluation.campaign.year,
        value.indicator.code,
        value.etablissement.finess if value.etablissement else "",
        extension="zip",
    )
    return zip_response(request, entries, filename=filename)
