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
    # The hash chain (audit/chain.py): written by audit.services.append_event, checked by verify_audit.
    chain = models.CharField("chaîne", max_length=40, blank=True)
    chain_index = models.PositiveBigIntegerField("rang dans la chaîne", null=True, blank=True)
    previous_hash = models.CharField("empreinte de l'événement précédent", max_length=64, blank=True)
    hash = models.CharField("empreinte", max_length=64, blank=True)

    class Meta:
        verbose_name = "événement d'audit"
        verbose_name_plural = "événements d'audit"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["event_type", "created_at"], name="audit_event_type_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_event_object_idx"),
        ]
        constraints = [
            # Two events at the same place of a chain would be a fork: refused by the database even if
            # the head's lock were ever bypassed. Also the index verify_audit and audit_head read.
            models.UniqueConstraint(fields=["chain", "chain_index"], name="audit_event_chain_position"),
        ]

    def __str__(self):
        return f"{self.created_at:%d/%m/%Y %H:%M} — {self.get_event_type_display()}"


class AuditChainHead(models.Model):
    """The last event of each chain, locked (SELECT … FOR UPDATE) by every append to that chain.

    The lock (taken by the UPDATE that appends, audit.services) is what keeps two concurrent transactions
    from appending after the same event (a fork);
    the row itself lets verify_audit notice that a chain's last events were removed. Unlike the events,
    the heads are updated: the application's database role keeps UPDATE on this table.
    """

    chain = models.CharField("chaîne", max_length=40, primary_key=True)
    length = models.PositiveBigIntegerField("nombre d'événements", default=0)
    hash = models.CharField("empreinte du dernier événement", max_length=64)
    # The hash the last event points to: the append's statement reads it back (audit.services).
    previous_hash = models.CharField("empreinte de l'avant-dernier événement", max_length=64, blank=True)
    # Not a foreign key: the head must name its last event even after someone removed it.
    last_event_id = models.BigIntegerField("dernier événement", null=True)
    last_created_at = models.DateTimeField("date du dernier événement", null=True)
    last_event_type = models.CharField("type du dernier événement", max_length=50, blank=True)

    class Meta:
        verbose_name = "tête de chaîne d'audit"
        verbose_name_plural = "têtes de chaîne d'audit"

    def __str__(self):
        return f"{self.chain} ({self.length})"
