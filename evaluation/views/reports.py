"""« Rapport d'évaluation » on the contract page: the download of a sent version by a member of the EJ, whose
first download is the read receipt (evaluation.reports.record_download)."""

import hashlib
import hmac
import io
import logging

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import loader
from django.views.decorators.http import require_GET

from contracts.perms import role_in_ej
from ecars.lib.http import protect_user_file, request_context
from evaluation import reports
from evaluation.models import Report
from evaluation.views.common import get_self_evaluation_for_user


logger = logging.getLogger(__name__)


@require_GET
def download(request, self_evaluation, version):
    """A sent version of the report, for the members of the EJ (any role): 404 for a draft, another EJ, or an
    agent (agents download the reports from « Évaluations »)."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    if role_in_ej(request.user, self_evaluation.contract.ej) is None:
        raise Http404("Aucun rapport ne correspond à cette adresse.")
    report = get_object_or_404(
        Report.objects.filter(self_evaluation=self_evaluation, sent_at__isnull=False), version=version
    )
    report.self_evaluation = self_evaluation
    response = serve_report(report)
    if response.status_code == 200:
        reports.record_download(report, user=request.user, context=request_context(request))
    return response


def serve_report(report: Report):
    """The report's file as an attachment named by `reports.report_filename`, checked against its SHA-256: an
    altered or missing file is never served (the error page instead)."""
    try:
        with report.file.open("rb") as stored:
            content = stored.read()
    except (FileNotFoundError, OSError) as e:
        logger.error("Rapport d'évaluation introuvable : %s (%s)", report.file.name, e)
        return _unavailable()
    if not hmac.compare_digest(hashlib.sha256(content).hexdigest(), report.file_sha256):
        logger.error("Rapport d'évaluation altéré : %s ne correspond pas à l'empreinte enregistrée", report.file.name)
        return _unavailable()
    response = FileResponse(
        io.BytesIO(content),
        as_attachment=True,
        filename=reports.report_filename(report),
        content_type="application/pdf",
    )
    return protect_user_file(response)


def _unavailable():
    return HttpResponse(loader.get_template("errors/500.html").render(), status=500)
