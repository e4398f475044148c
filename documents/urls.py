from django.urls import path

from documents import views


app_name = "documents"

QUESTION = "evaluations/<uuid:self_evaluation>/indicateurs/<str:code>/documents"

urlpatterns = [
    path(f"{QUESTION}/", views.question_upload, name="question_upload"),
    path(f"{QUESTION}/joindre/", views.question_attach, name="question_attach"),
    path(f"{QUESTION}/<uuid:document>/retirer/", views.question_withdraw, name="question_withdraw"),
    path(f"{QUESTION}/archive.zip", views.question_zip, name="question_zip"),
    path("contrats/<uuid:contract>/documents/", views.contract_upload, name="contract_upload"),
    path("contrats/<uuid:contract>/documents/archive.zip", views.contract_zip, name="contract_zip"),
    path("documents/<uuid:document>/", views.download, name="download"),
]
