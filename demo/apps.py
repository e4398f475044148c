from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo world of the manual (`manage.py seed_demo`): built from the apps' services, on top of all."""

    name = "demo"
    verbose_name = "démonstration"
