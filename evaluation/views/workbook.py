"""« Télécharger le classeur » and « Déposer le classeur »: offline work on the self-evaluation."""

import time

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from ecars.lib.http import protect_user_file, request_context
from evaluation import services, workbook
from evaluation.perms import abilities_for
from evaluation.views.common import get_self_evaluation_for_user, page_context


# The parsed changes wait in the session between the preview and the confirmation, never in the page.
SESSION_KEY = "evaluation_workbook_imports"
PENDING_LIFETIME = 30 * 60


UPLOAD_HELP = f"Le classeur téléchargé depuis e-CARS, au format .xlsx, {workbook.UploadLimits.MAX_SIZE_LABEL} au plus."


class WorkbookUploadForm(forms.Form):
    workbook = forms.FileField(label="Classeur rempli", help_text=UPLOAD_HELP)


@require_safe
def download(request, self_evaluation):
    """The self-evaluation as a workbook, for anyone who may see it (locked when they may not write)."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    content = workbook.export_workbook(self_evaluation, can=abilities_for(self_evaluation, request.user))
    response = HttpResponse(content, content_type=workbook.MIME_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{workbook.filename(self_evaluation)}"'
    return protect_user_file(response)


def _pending(request) -> dict:
    return request.session.get(SESSION_KEY, {})


def _keep_pending(request, self_evaluation, digest, result):
    pending = {
        key: entry
        for key, entry in _pending(request).items()
        if time.time() - entry.get("created_at", 0) <= PENDING_LIFETIME
    }
    pending[str(self_evaluation.public_id)] = {
        "sha256": digest,
        "created_at": time.time(),
        "changes": [change.to_session() for change in result.changes],
    }
    request.session[SESSION_KEY] = pending


def _forget_pending(request, self_evaluation):
    pending = _pending(request)
    if pending.pop(str(self_evaluation.public_id), None) is not None:
        request.session[SESSION_KEY] = pending


REFUSED = (
    "Vous ne pouvez pas déposer de classeur : cette auto-évaluation n'est pas ouverte à votre saisie "
    "(elle est close, hors calendrier, ou votre rôle ne permet que la consultation)."
)


@require_http_methods(["GET", "POST"])
def upload(request, self_evaluation):
    """GET: the upload form. POST a file: the preview (changes and errors). POST « confirm »: apply all or nothing."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    context = page_context(request, self_evaluation)
    form = WorkbookUploadForm()
    context.update({"form": form, "refusal": "", "conflict": ""})
    if not context["can"].write:
        if request.method == "POST":
            # Nothing is read nor written: the upload itself is the refused write.
            services.record_refused_write(
                self_evaluation,
                acting_user=request.user,
                target=self_evaluation,
                data={"via": "classeur", "reason": REFUSED},
                context=request_context(request),
            )
            _forget_pending(request, self_evaluation)
        context["refusal"] = REFUSED
        return render(request, "evaluation/workbook_upload.html", context, status=403)
    if request.method == "POST" and "confirm" in request.POST:
        return _apply(request, self_evaluation, context)
    if request.method == "POST":
        form = WorkbookUploadForm(data=request.POST, files=request.FILES)
        context["form"] = form
        if form.is_valid():
            uploaded = form.cleaned_data["workbook"]
            try:
                data = workbook.read_upload(uploaded)
                result = workbook.parse_workbook(data, self_evaluation)
            except workbook.WorkbookRefused as refusal:
                form.add_error("workbook", str(refusal))
            else:
                digest = workbook.sha256(data)
                if result.can_apply:
                    _keep_pending(request, self_evaluation, digest, result)
                else:
                    _forget_pending(request, self_evaluation)
                context.update({"result": result, "sha256": digest})
                return render(request, "evaluation/workbook_preview.html", context)
        _forget_pending(request, self_evaluation)
        return render(request, "evaluation/workbook_upload.html", context, status=400)
    return render(request, "evaluation/workbook_upload.html", context)


def _apply(request, self_evaluation, context):
    """Apply the changes of the previewed workbook, all or nothing (`workbook.import_answers`)."""
    entry = _pending(request).get(str(self_evaluation.public_id))
    _forget_pending(request, self_evaluation)
    fresh = entry and time.time() - entry.get("created_at", 0) <= PENDING_LIFETIME
    if not fresh or entry.get("sha256") != request.POST.get("sha256") or not entry.get("changes"):
        context["refusal"] = (
            "Aucun classeur valide n'attend votre confirmation (il a expiré après 30 minutes, a été remplacé, "
            "ou comportait des erreurs) : déposez-le à nouveau. Aucune réponse n'a été enregistrée."
        )
        return render(request, "evaluation/workbook_upload.html", context, status=409)
    try:
        count = workbook.import_answers(
            self_evaluation, entry["changes"], acting_user=request.user, context=request_context(request)
        )
    except workbook.ImportConflict as conflict:
        context["conflict"] = str(conflict)
        return render(request, "evaluation/workbook_upload.html", context, status=409)
    except services.WriteRefused as refusal:
        context["refusal"] = str(refusal)
        return render(request, "evaluation/workbook_upload.html", context, status=403)
    messages.success(
        request,
        f"Classeur appliqué : {count} question{'s' if count > 1 else ''} mise{'s' if count > 1 else ''} à jour.",
    )
    return redirect("evaluation:indicators", self_evaluation.public_id)
