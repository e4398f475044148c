from django.urls import path

from evaluation.views import attachments, closure, extensions, observations, questions, reports, workbook


app_name = "evaluation"

# The question's documents (« Documents de l'indicateur »).
QUESTION_DOCUMENTS = "evaluations/<uuid:self_evaluation>/indicateurs/<str:code>/documents"

urlpatterns = [
    path("evaluations/<uuid:self_evaluation>/indicateurs/", questions.indicators, name="indicators"),
    path("evaluations/<uuid:self_evaluation>/indicateurs/<str:code>/", questions.question, name="question"),
    path("evaluations/<uuid:self_evaluation>/cloture/", closure.close, name="close"),
    path("evaluations/<uuid:self_evaluation>/attestation/", closure.receipt, name="receipt"),
    path("evaluations/<uuid:self_evaluation>/rapports/<int:version>/", reports.download, name="report_download"),
    path("evaluations/<uuid:self_evaluation>/observations/envoyer/", observations.send, name="send_observations"),
    path("evaluations/<uuid:self_evaluation>/prolongation/", extensions.request_extension, name="request_extension"),
    path("evaluations/<uuid:self_evaluation>/classeur.xlsx", workbook.download, name="workbook_download"),
    path("evaluations/<uuid:self_evaluation>/classeur/", workbook.upload, name="workbook_upload"),
    path("aide/cibles/", questions.help_targets, name="help_targets"),
    path(f"{QUESTION_DOCUMENTS}/", attachments.question_upload, name="question_upload"),
    path(f"{QUESTION_DOCUMENTS}/joindre/", attachments.question_attach, name="question_attach"),
    path(f"{QUESTION_DOCUMENTS}/<uuid:document>/retirer/", attachments.question_withdraw, name="question_withdraw"),
    path(f"{QUESTION_DOCUMENTS}/archive.zip", attachments.question_zip, name="question_zip"),
]
