"""« Clore la saisie », and the download of the attestation de clôture."""

import hashlib
import hmac
import io
import logging

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_GET, require_http_methods

from ecars.lib.http import protect_user_file, request_context
from evaluation import receipts, services
from evaluation.display import answer_shown
from evaluation.views.common import get_self_evaluation_for_user, page_context


logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def close(request, self_evaluation):
    """« Clore la saisie »: the red questions if any; else a summary to confirm, then the closure.

    The service decides on the locked row; a refusal changes nothing and is audited. A user who may not
    close (self-evaluation already closed, not open, or not a signataire) gets 409/403 and the page.
    """
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    context = page_context(request, self_evaluation)
    if request.method == "POST":
        try:
            services.close_self_evaluation(self_evaluation, acting_user=request.user, context=request_context(request))
        except services.ClosureRefused as refusal:
            # The service has audited the refusal.
            if not context["can"].close:
                # The page says why (« Vous ne pouvez pas clore cette auto-évaluation… »).
                status = 409 if self_evaluation.is_closed else 403
                return render(request, "evaluation/close.html", _with_answers(context), status=status)
            messages.error(request, str(refusal))
            return redirect("evaluation:close", self_evaluation.public_id)
        messages.success(
            request,
            "La saisie est close : votre contrat passe en consultation. L'attestation de clôture a été envoyée "
            "par e-mail aux signataires et au contact ARS du contrat.",
        )
        return redirect("contracts:contract_detail", self_evaluation.contract.public_id)
    return render(request, "evaluation/close.html", _with_answers(context))


def _with_answers(context):
    """The confirmation table: each counted question with its answer as the pages show it."""
    context["answers"] = [
        {
            "question": question,
            "shown": answer_shown(
                question.node.value_type, question.value.value, not_applicable=question.value.not_applicable
            ),
        }
        for question in context["tree"].questions
        if question.counts
    ]
    return context


@require_GET
def receipt(request, self_evaluation):
    """The latest attestation de clôture of the self-evaluation, as a PDF attachment.

    The stored file is checked against the SHA-256 recorded at the closure: a file altered in the storage
    is never served. Without a receipt yet, back to the contract page.
    """
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    closure_receipt = self_evaluation.receipts.order_by("-closed_at", "-pk").first()
    if closure_receipt is None:
        messages.info(request, "Aucune attestation de clôture n'est disponible pour cette auto-évaluation.")
        return redirect("contracts:contract_detail", self_evaluation.contract.public_id)
    try:
        with closure_receipt.file.open("rb") as stored:
            content = stored.read()
    except (FileNotFoundError, OSError) as e:
        logger.error("Attestation de clôture introuvable : %s (%s)", closure_receipt.file.name, e)
        return _unavailable()
    if not hmac.compare_digest(hashlib.sha256(content).hexdigest(), closure_receipt.file_sha256):
        logger.error(
            "Attestation de clôture altérée : %s ne correspond pas à l'empreinte enregistrée (auto-évaluation %s)",
            closure_receipt.file.name,
            self_evaluation.public_id,
        )
        return _unavailable()
    response = FileResponse(
        io.BytesIO(content),
        as_attachment=True,
        filename=receipts.receipt_filename(self_evaluation),
        content_type="application/pdf",
    )
    return protect_user_file(response)


def _unavailable():
    """Never serve a file that is not the one receipted: the error page, as for any server fault."""
    return HttpResponse(loader.get_template("errors/500.html").render(), status=500)
