from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Journal d'audit"

    def ready(self):
        from audit.admin_writes import record_admin_write
        from ecars.admin import admin_write

        admin_write.register(record_admin_write)
