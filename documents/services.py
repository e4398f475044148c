"""Writes on documents: upload under a question or to a contract, attach an earlier one, withdraw.

Views and commands go through these functions. The upload protocol (SECURITY.md R4) validates the
file before anything is stored, writes the object under a fresh random key, then creates the row
in a short transaction; if that transaction fails the object is removed, and an object left behind
by a crash is reported by `check_documents`. Nothing here ever deletes a stored document.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.perms import may
from documents.antivirus import queue_scan
from documents.enums import ScanStatus
from documents.models import Attachment, Document, documents_storage, random_storage_key
from documents.validation import UploadRefused, ValidatedUpload, validate_upload
from evaluation.perms import abilities, role_in_ej
from evaluation.services import WriteRefused, lock_for_writing


logger = logging.getLogger(__name__)

__all__ = ["DocumentRefused", "UploadRefused", "WriteRefused"]

CLOSED_MESSAGE = (
    "Impossible d'ajouter un document : cette auto-évaluation n'est pas ouverte à votre saisie "
    "(elle est close, hors calendrier, ou votre rôle ne permet que la consultation)."
)


class DocumentRefused(Exception):
    """A document operation that the rules forbid; the message is shown to the user."""


def _check_can_write(self_evaluation, acting_user):
    """The same rule as `lock_for_writing`, checked before the file is stored (no lock yet)."""
    if not abilities(self_evaluation, role=role_in_ej(acting_user, self_evaluation.contract.ej)).write:
        raise WriteRefused(CLOSED_MESSAGE)


def _validate(uploaded_file, *, ej, acting_user, ip_address) -> ValidatedUpload:
    try:
        return validate_upload(uploaded_file)
    except UploadRefused as refusal:
        with transaction.atomic():
            record_event(
                EventType.DOCUMENT_REJECTED,
                actor=acting_user,
                ej=ej,
                # The client's name may be hostile: kept short and only as data.
                data={"name": str(uploaded_file.name)[:255], "reason": str(refusal)},
                ip_address=ip_address,
            )
        raise


def _store(uploaded_file) -> str:
    """Write the object under a fresh random key (never the user's name) and return that key."""
    uploaded_file.seek(0)
    return documents_storage().save(random_storage_key(None, ""), uploaded_file)


def _discard(storage_key: str):
    """Remove an object whose row was never committed; if that fails, `check_documents` reports it."""
    try:
        documents_storage().delete(storage_key)
    except Exception:
        logger.exception("Objet %s sans ligne en base non supprimé : check_documents le signalera.", storage_key)


def _replayed(acting_user, upload_token, validated) -> Document | None:
    """The document this same submission already created (a retried or double-clicked upload)."""
    if upload_token is None:
        return None
    return Document.objects.filter(
        uploaded_by=acting_user, upload_token=upload_token, sha256=validated.sha256, original_name=validated.name
    ).first()


def _upload(uploaded_file, *, ej, contract, acting_user, upload_token, ip_address, create_rows) -> Document:
    """Validate, store the object, then run `create_rows(document_fields)` in a transaction.

    If the transaction fails the object is removed again; a replayed submission (same form token,
    same file) returns the document it already created, with nothing stored twice.
    """
    validated = _validate(uploaded_file, ej=ej, acting_user=acting_user, ip_address=ip_address)
    replayed = _replayed(acting_user, upload_token, validated)
    if replayed is not None:
        return replayed
    storage_key = _store(uploaded_file)
    fields = {
        "ej": ej,
        "contract": contract,
        "file": storage_key,
        "original_name": validated.name,
        "size": validated.size,
        "sha256": validated.sha256,
        "mime_type": validated.mime_type,
        "has_macros": validated.has_macros,
        "uploaded_by": acting_user,
        "upload_token": upload_token,
    }
    try:
        with transaction.atomic():
            return create_rows(fields)
    except IntegrityError:
        _discard(storage_key)
        # Two identical submissions raced: the other one created the document.
        replayed = _replayed(acting_user, upload_token, validated)
        if replayed is None:
            raise
        return replayed
    except BaseException:
        _discard(storage_key)
        raise


def upload_to_question(uploaded_file, *, value, acting_user, upload_token=None, ip_address=None) -> Document:
    """« Ajouter document » under a question: validated, stored, listed, and queued for the antivirus.

    Raises UploadRefused (the file) or WriteRefused (closed, calendar, role) with nothing stored.
    `value.self_evaluation` is expected to be loaded with its contract and EJ.
    """
    self_evaluation = value.self_evaluation
    _check_can_write(self_evaluation, acting_user)

    def create_rows(fields):
        # The lock serialises uploads with the closure: a document is either in before it, or refused.
        lock_for_writing(self_evaluation.pk, acting_user=acting_user)
        document = Document.objects.create(**fields)
        Attachment.objects.create(document=document, indicator_value=value, attached_by=acting_user)
        _record_upload(document, value=value, acting_user=acting_user, ip_address=ip_address)
        return document

    return _upload(
        uploaded_file,
        ej=self_evaluation.contract.ej,
        contract=None,
        acting_user=acting_user,
        upload_token=upload_token,
        ip_address=ip_address,
        create_rows=create_rows,
    )


def upload_to_contract(uploaded_file, *, contract, acting_user, upload_token=None, ip_address=None) -> Document:
    """« Ajouter document » in « Documents du contrat »: agency staff of the contract's region only."""
    if not may_add_contract_documents(acting_user, contract):
        raise DocumentRefused("Seuls les agents de l'ARS de la région du contrat ajoutent des documents du contrat.")

    def create_rows(fields):
        document = Document.objects.create(**fields)
        _record_upload(document, value=None, acting_user=acting_user, ip_address=ip_address)
        return document

    return _upload(
        uploaded_file,
        ej=contract.ej,
        contract=contract,
        acting_user=acting_user,
        upload_token=upload_token,
        ip_address=ip_address,
        create_rows=create_rows,
    )


def may_add_contract_documents(user, contract) -> bool:
    """« Ajouter document » on a contract: the `upload` power of the privilege table, in the contract's region."""
    return may(user, "documents.document", "upload", ej=contract.ej)


def _record_upload(document, *, value, acting_user, ip_address):
    data = {"name": document.original_name, "size": document.size, "sha256": document.sha256}
    if value is not None:
        data["code"] = value.indicator.code
    if document.contract_id:
        data["contract"] = str(document.contract.public_id)
    record_event(
        EventType.DOCUMENT_UPLOADED,
        actor=acting_user,
        ej=document.ej,
        target=document,
        data=data,
        ip_address=ip_address,
    )
    queue_scan(document)  # sends the task once the transaction commits


def attachable_documents(value):
    """What « Joindre un document déjà déposé » offers: the EJ's question documents, any year, not yet
    listed under this question and not quarantined."""
    ej_id = value.self_evaluation.contract.ej_id
    listed_here = Attachment.objects.filter(indicator_value=value, withdrawn_at__isnull=True).values("document_id")
    return (
        Document.objects.filter(ej_id=ej_id, contract__isnull=True, attachments__isnull=False)
        .exclude(scan_status=ScanStatus.INFECTE)
        .exclude(pk__in=listed_here)
        .distinct()
    )


@transaction.atomic
def attach_existing(document, *, value, acting_user, ip_address=None) -> Attachment:
    """List an already uploaded document under one more question: no new copy is stored."""
    self_evaluation = value.self_evaluation
    lock_for_writing(self_evaluation.pk, acting_user=acting_user)
    if not attachable_documents(value).filter(pk=document.pk).exists():
        raise DocumentRefused("Ce document ne peut pas être joint à cette question.")
    attachment, created = Attachment.objects.get_or_create(
        document=document, indicator_value=value, defaults={"attached_by": acting_user}
    )
    if not created:
        # It had been withdrawn from this question: it comes back, and the history keeps both steps.
        attachment.withdrawn_at = None
        attachment.withdrawn_by = None
        attachment.attached_by = acting_user
        attachment.save(update_fields=["withdrawn_at", "withdrawn_by", "attached_by"])
    record_event(
        EventType.DOCUMENT_ATTACHED,
        actor=acting_user,
        ej=self_evaluation.contract.ej,
        target=document,
        data={"name": document.original_name, "code": value.indicator.code},
        ip_address=ip_address,
    )
    return attachment


@transaction.atomic
def withdraw(attachment, *, acting_user, ip_address=None) -> Attachment:
    """« Retirer »: the document leaves the question's list but stays stored and in the history.

    Only whoever put it there, in the current year, while the self-evaluation is open to them.
    """
    value = attachment.indicator_value
    self_evaluation = value.self_evaluation
    if not self_evaluation.is_current():
        raise DocumentRefused("Les documents des années précédentes ne peuvent pas être retirés.")
    lock_for_writing(self_evaluation.pk, acting_user=acting_user)
    locked = Attachment.objects.select_for_update().get(pk=attachment.pk)
    if locked.withdrawn_at is not None:
        raise DocumentRefused("Ce document a déjà été retiré de cette question.")
    if locked.attached_by_id != acting_user.pk:
        raise DocumentRefused("Seule la personne qui a ajouté ce document peut le retirer.")
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_by = acting_user
    locked.save(update_fields=["withdrawn_at", "withdrawn_by"])
    record_event(
        EventType.DOCUMENT_WITHDRAWN,
        actor=acting_user,
        ej=self_evaluation.contract.ej,
        target=attachment.document,
        data={"name": attachment.document.original_name, "code": value.indicator.code},
        ip_address=ip_address,
    )
    return locked
