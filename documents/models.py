import uuid

from django.conf import settings
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty

from documents.enums import ScanStatus


class _DocumentsStorage(LazyObject):
    """The `documents` storage of STORAGES, resolved at use time so that settings overrides apply."""

    def _setup(self):
        self._wrapped = storages["documents"]


_documents_storage = _DocumentsStorage()


@receiver(setting_changed)
def _reset_documents_storage(*, setting, **kwargs):
    if setting == "STORAGES":
        _documents_storage._wrapped = empty


def documents_storage():
    return _documents_storage


def random_storage_key(instance, filename):
    """A random key: the original name is kept as metadata only, never in the storage path."""
    return f"documents/{uuid.uuid4()}"


class DocumentQuerySet(models.QuerySet):
    def for_user(self, user):
        from contracts.models import EntiteJuridique

        return self.filter(ej__in=EntiteJuridique.objects.for_user(user))


class Document(models.Model):
    """A stored file: justificatory document of an EJ, or contract document added by the ARS.

    One stored copy may support several questions (see `Attachment`). Documents are never
    hard-deleted by users.
    """

    public_id = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    ej = models.ForeignKey(
        "contracts.EntiteJuridique",
        verbose_name="entité juridique",
        on_delete=models.PROTECT,
        related_name="documents",
    )
    contract = models.ForeignKey(
        "contracts.Contract",
        verbose_name="contrat",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
        help_text="Renseigné pour un document du contrat (ajouté par l'ARS).",
    )
    file = models.FileField("fichier", storage=documents_storage, upload_to=random_storage_key, max_length=255)
    original_name = models.CharField("nom du document", max_length=255)
    size = models.PositiveBigIntegerField("taille (octets)")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    mime_type = models.CharField("type détecté", max_length=100)
    has_macros = models.BooleanField("contient des macros", default=False)
    scan_status = models.CharField(
        "analyse antivirus", max_length=20, choices=ScanStatus.choices, default=ScanStatus.EN_ATTENTE
    )
    scan_detail = models.CharField("résultat de l'analyse", max_length=255, blank=True)
    scanned_at = models.DateTimeField("analysé le", null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="déposé par", on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField("déposé le", auto_now_add=True)
    upload_token = models.UUIDField(
        "jeton de dépôt",
        null=True,
        blank=True,
        editable=False,
        help_text="Identifie le formulaire d'envoi : un envoi rejoué (double clic, reprise) ne crée pas de doublon.",
    )

    objects = DocumentQuerySet.as_manager()

    class Meta:
        verbose_name = "document"
        verbose_name_plural = "documents"
        ordering = ["-uploaded_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="documents_document_sha256_format"
            ),
            models.UniqueConstraint(
                fields=["uploaded_by", "upload_token", "sha256", "original_name"],
                condition=models.Q(upload_token__isnull=False),
                name="documents_document_upload_once",
            ),
        ]
        indexes = [models.Index(fields=["scan_status"], name="documents_scan_status_idx")]

    def __str__(self):
        return self.original_name


class Attachment(models.Model):
    """A document listed under a question. Withdrawing hides it from the list; nothing is deleted."""

    document = models.ForeignKey(
        Document, verbose_name="document", on_delete=models.PROTECT, related_name="attachments"
    )
    indicator_value = models.ForeignKey(
        "evaluation.IndicatorValue", verbose_name="question", on_delete=models.PROTECT, related_name="attachments"
    )
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="joint par", on_delete=models.PROTECT, related_name="+"
    )
    attached_at = models.DateTimeField("joint le", auto_now_add=True)
    withdrawn_at = models.DateTimeField("retiré le", null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="retiré par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "pièce jointe à une question"
        verbose_name_plural = "pièces jointes aux questions"
        ordering = ["indicator_value", "attached_at"]
        constraints = [
            models.UniqueConstraint(fields=["document", "indicator_value"], name="documents_attachment_unique"),
            models.CheckConstraint(
                condition=models.Q(withdrawn_at__isnull=True) | models.Q(withdrawn_by__isnull=False),
                name="documents_attachment_withdrawn_by",
            ),
        ]

    def __str__(self):
        return f"{self.document} → {self.indicator_value}"
