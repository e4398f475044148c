from django.urls import path

from documents import views


app_name = "documents"

urlpatterns = [
    path("contrats/<uuid:contract>/documents/", views.contract_upload, name="contract_upload"),
    path("contrats/<uuid:contract>/documents/archive.zip", views.contract_zip, name="contract_zip"),
    path("documents/<uuid:document>/", views.download, name="download"),
]
