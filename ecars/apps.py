from django.apps import AppConfig


class EcarsConfig(AppConfig):
    name = "ecars"
    verbose_name = "e-CARS"
