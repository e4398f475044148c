from django.urls import path

from evaluation.views import closure, questions


app_name = "evaluation"

urlpatterns = [
    path("evaluations/<uuid:self_evaluation>/indicateurs/", questions.indicators, name="indicators"),
    path("evaluations/<uuid:self_evaluation>/cloture/", closure.close, name="close"),
]
