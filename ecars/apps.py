from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class EcarsConfig(AppConfig):
    name = "ecars"
    verbose_name = "e-CARS"

    def ready(self):
        from ecars.lib.logs import connect_task_signals

        connect_task_signals()  # one log line per task run (ecars/lib/logs.py)


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin with e-CARS's site, every model admin of which obeys the privilege table."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin
    default_site = "ecars.admin_site.AdminSite"

    def ready(self):
        super().ready()  # autodiscovers the apps' admin modules
        from django.contrib import admin

        from ecars.admin_site import hold_to_the_privilege_table

        hold_to_the_privilege_table(admin.site)
