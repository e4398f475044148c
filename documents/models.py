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

    One stored copy may be listed in several places by the apps built on `documents` (under several
    questions, for instance). Documents are never hard-deleted by users.
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
