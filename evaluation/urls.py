from django.urls import path

from evaluation.views import closure, extensions, questions, workbook


app_name = "evaluation"

urlpatterns = [
    path("evaluations/<uuid:self_evaluation>/indicateurs/", questions.indicators, name="indicators"),
    path("evaluations/<uuid:self_evaluation>/indicateurs/<str:code>/", questions.question, name="question"),
    path("evaluations/<uuid:self_evaluation>/cloture/", closure.close, name="close"),
    path("evaluations/<uuid:self_evaluation>/attestation/", closure.receipt, name="receipt"),
    path("evaluations/<uuid:self_evaluation>/prolongation/", extensions.request_extension, name="request_extension"),
    path("evaluations/<uuid:self_evaluation>/classeur.xlsx", workbook.download, name="workbook_download"),
    path("evaluations/<uuid:self_evaluation>/classeur/", workbook.upload, name="workbook_upload"),
    path("aide/cibles/", questions.help_targets, name="help_targets"),
]
