"""Admin of the audit trail: view-only for everybody (the table is append-only in the database too)."""

from django.contrib import admin

from audit.models import AuditEvent
from ecars.admin import ReadOnlyMixin, RegionScopedAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, RegionScopedAdmin):
    # Events without an EJ (sign-ins, commands…) are visible to superusers only.
    region_path = "ej__region"
    list_display = ("created_at", "event_type", "actor", "ej", "object_repr", "ip_address")
    list_filter = ("event_type",)
    list_select_related = ("actor", "ej")
    search_fields = ("object_repr", "object_id", "actor__email", "ej__finess", "ej__name")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at",)
