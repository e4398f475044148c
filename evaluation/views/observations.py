"""The establishment's side of the evaluation: on each question, once a report is sent, « Évaluation <année> »
(the consolidated decision and its motivation, never a private note) and, during the période contradictoire,
« Contester »: the observation and its documents (evaluation.contradictory); on the contract page,
« Envoyer mes observations »."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from documents.http import upload_token
from documents.perms import may_download
from documents.validation import ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS, UploadRefused
from ecars.lib.http import request_context
from evaluation import contradictory, services
from evaluation.contract_page import REPORTED_STATES
from evaluation.display import question_url
from evaluation.enums import ObservationStatus
from evaluation.models import Consolidation, Observation
from evaluation.views.common import get_self_evaluation_for_user


def report_sent(self_evaluation) -> bool:
    """Whether a report has been sent to the establishment: its consolidated decisions are then shown."""
    return self_evaluation.state in REPORTED_STATES and self_evaluation.reports.filter(sent_at__isnull=False).exists()


def evaluation_block(request, value, *, text=None, errors=None) -> dict | None:
    """The context of templates/evaluation/_question_evaluation.html for `value` (its self-evaluation loaded),
    or None before any report is sent. `text`/`errors`: a draft being written, refused."""
    self_evaluation = value.self_evaluation
    if not report_sent(self_evaluation):
        return None
    # The private note is never read on an establishment page.
    consolidation = Consolidation.objects.filter(value=value).defer("private_note").first()
    observations = list(
        Observation.objects.filter(value=value)
        .select_related("round")
        .prefetch_related("documents__document")
        .order_by("round__number")
    )
    for observation in observations:
        observation.files = [(item.document, may_download(item.document)) for item in observation.documents.all()]
    contradictory_round = contradictory.current_round(self_evaluation)
    draft = next((o for o in observations if contradictory_round and o.round_id == contradictory_round.pk), None)
    refusal = contradictory.contest_refusal(
        self_evaluation, value, request.user, contradictory_round=contradictory_round
    )
    return {
        "year": self_evaluation.campaign.year,
        "consolidation": consolidation,
        "observations": observations,
        "round": contradictory_round,
        "draft": draft if draft and draft.status == ObservationStatus.BROUILLON else None,
        "can_contest": refusal is None,
        "text": draft.text if text is None and draft else (text or ""),
        "errors": errors or [],
        "accept": ACCEPT_ATTRIBUTE,
        "accepted_formats": ACCEPTED_FORMATS,
        "upload_token": uuid.uuid4(),
    }


def save(request, value):
    """« Enregistrer l'observation » (a POST to the question's page with `observation`): the text, and the files
    chosen with it, each validated on its own. A redirect, or the block to show again with the refusal (the
    text kept)."""
    if not report_sent(value.self_evaluation):  # no report sent: nothing to contest, and no block to show
        messages.error(request, "Aucun rapport d'évaluation n'a été envoyé : il n'y a encore rien à contester.")
        return redirect(question_url(value))
    context = request_context(request)
    text = request.POST.get("text", "")
    try:
        version = int(request.POST.get("version", "0"))
    except ValueError:
        version = -1
    try:
        observation = contradictory.save_observation(
            value, acting_user=request.user, text=text, expected_version=version, context=context
        )
    except contradictory.ObservationRefused as refusal:
        return evaluation_block(request, value, text=text, errors=[str(refusal)])
    except services.VersionConflict:
        return evaluation_block(
            request,
            value,
            text=text,
            errors=[
                "L'observation a été modifiée entre-temps par un collègue : la version enregistrée est ci-dessous, "
                "votre texte dans le champ. Relisez, puis enregistrez de nouveau."
            ],
        )
    token = upload_token(request)
    for uploaded_file in request.FILES.getlist("documents"):
        try:
            document = contradictory.add_observation_document(
                observation, uploaded_file, acting_user=request.user, upload_token=token, context=context
            )
        except (UploadRefused, contradictory.ObservationRefused) as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"« {document.original_name} » a été ajouté à l'observation.")
    messages.success(
        request,
        "Observation enregistrée : elle partira avec les autres quand un signataire cliquera sur "
        "« Envoyer mes observations », sur la page du contrat.",
    )
    return redirect(question_url(value, anchor="evaluation"))


@require_POST
def send(request, self_evaluation):
    """« Envoyer mes observations »."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    back = reverse("contracts:contract_detail", args=[self_evaluation.contract.public_id]) + "#periode-contradictoire"
    try:
        count = contradictory.send_observations(
            self_evaluation, acting_user=request.user, context=request_context(request)
        )
    except contradictory.ObservationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        if count == 1:
            messages.success(request, "Votre observation a été envoyée.")
        else:
            messages.success(request, f"Vos {count} observations ont été envoyées.")
    return redirect(back)
