from django.urls import path

from evaluation import views


app_name = "evaluation"

urlpatterns = [
    path("evaluations/<uuid:self_evaluation>/indicateurs/", views.indicators, name="indicators"),
    path("evaluations/<uuid:self_evaluation>/cloture/", views.close, name="close"),
]
