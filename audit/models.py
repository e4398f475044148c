from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from audit.enums import EventType


class AuditEvent(models.Model):
    """An append-only business and security log entry, written in the same transaction as the change.

    On PostgreSQL a trigger refuses UPDATE and DELETE on this table (migration 0002).
    """

    created_at = models.DateTimeField("le", default=timezone.now, db_index=True)
    # PROTECT: an event keeps its author even if the account is later deactivated.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Vide pour une opération automatique ou anonyme.",
    )
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    request_id = models.CharField(
        "identifiant de la requête",
        max_length=64,
        blank=True,
        help_text="Le même que dans les journaux du serveur (X-Request-ID) ; vide pour une commande.",
    )
    ej = models.ForeignKey(
        "contracts.EntiteJuridique",
        verbose_name="entité juridique",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    event_type = models.CharField("événement", max_length=50, choices=EventType.choices)
    object_type = models.CharField("type d'objet", max_length=100, blank=True)
    object_id = models.CharField("identifiant de l'objet", max_length=64, blank=True)
    object_repr = models.CharField("objet", max_length=255, blank=True)
    data = models.JSONField("détails", default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = "événement d'audit"
        verbose_name_plural = "événements d'audit"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["event_type", "created_at"], name="audit_event_type_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_event_object_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%d/%m/%Y %H:%M} — {self.get_event_type_display()}"
