"""Writes on documents: the upload protocol, and the contract's own documents.

Views and commands go through these functions. The upload protocol (SECURITY.md R4) validates the
file before anything is stored, writes the object under a fresh random key, then creates the rows
in a short transaction; if that transaction fails the object is removed, and an object left behind
by a crash is reported by `check_documents`. Nothing here ever deletes a stored document.

`upload_document` knows nothing of what a document is for: the caller creates the rows (the document
through `create_document`, and its own, e.g. the question the document is listed under) in the
transaction it is given.
"""

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction

from audit.enums import EventType
from audit.services import record_event
from documents.antivirus import queue_scan
from documents.models import Document, documents_storage, random_storage_key
from documents.perms import may_add_contract_documents
from documents.validation import UploadRefused, ValidatedUpload, validate_upload
from ecars.lib.http import RequestContext


logger = logging.getLogger(__name__)

__all__ = ["DocumentRefused", "UploadRefused"]


class DocumentRefused(Exception):
    """A document operation that the rules forbid; the message is shown to the user."""


def _validate(uploaded_file, *, ej, acting_user, context) -> ValidatedUpload:
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
                context=context,
            )
        raise


# The storage could not keep the file (S3 down or timing out, disk full…): nothing is recorded, the user may retry.
STORAGE_UNAVAILABLE = (
    "le stockage des documents est temporairement indisponible, le fichier n'a pas été enregistré "
    "(réessayez dans quelques minutes)"
)


class StorageUnavailable(Exception):
    """The storage failed to keep a file; whatever it may have kept of it was removed."""


def _store(uploaded_file) -> str:
    """Write the object under a fresh random key (never the user's name) and return that key.

    If the storage fails (S3 unreachable, a timeout, a full disk), whatever it may have kept under that key (the
    start of a file on a full disk, an object whose acknowledgement was lost) is removed, and StorageUnavailable is
    raised: the upload is refused with a clear message (SECURITY.md R5), no row, no orphan.
    """
    storage_key = random_storage_key(None, "")
    uploaded_file.seek(0)
    try:
        return documents_storage().save(storage_key, uploaded_file)
    except Exception as error:
        logger.exception("Stockage des documents indisponible : dépôt refusé (clé %s).", storage_key)
        _discard(storage_key)
        raise StorageUnavailable(storage_key) from error


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


def upload_document(
    uploaded_file,
    *,
    ej,
    contract=None,
    acting_user,
    upload_token=None,
    context: RequestContext | None = None,
    create_rows: Callable[[dict], Document],
) -> Document:
    """Validate the file, store the object, then run `create_rows(document_fields)` in a transaction.

    `create_rows` creates the document with `create_document(document_fields, …)` and the caller's own
    rows, and returns the document; whatever it raises rolls back its rows and removes the object again.
    Raises UploadRefused (the file, audited) with nothing stored. A replayed submission (same form
    token, same file) returns the document it already created, with nothing stored twice.
    """
    validated = _validate(uploaded_file, ej=ej, acting_user=acting_user, context=context)
    replayed = _replayed(acting_user, upload_token, validated)
    if replayed is not None:
        return replayed
    try:
        storage_key = _store(uploaded_file)
    except StorageUnavailable as unavailable:
        raise UploadRefused(validated.name, STORAGE_UNAVAILABLE, "storage_unavailable") from unavailable
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


def create_document(
    fields: dict, *, acting_user, context: RequestContext | None = None, event_data: dict | None = None
) -> Document:
    """The row of an uploaded document (inside `upload_document`'s transaction): audited, and queued for
    the antivirus once the transaction commits. `event_data` adds the caller's words to the audit event."""
    document = Document.objects.create(**fields)
    _record_upload(document, acting_user=acting_user, context=context, event_data=event_data)
    return document


def upload_to_contract(
    uploaded_file, *, contract, acting_user, upload_token=None, context: RequestContext | None = None
) -> Document:
    """« Ajouter document » in « Documents du contrat »: agency staff of the contract's region only."""
    if not may_add_contract_documents(acting_user, contract):
        raise DocumentRefused("Seuls les agents de l'ARS de la région du contrat ajoutent des documents du contrat.")

    def create_rows(fields):
        return create_document(fields, acting_user=acting_user, context=context)

    return upload_document(
        uploaded_file,
        ej=contract.ej,
        contract=contract,
        acting_user=acting_user,
        upload_token=upload_token,
        context=context,
        create_rows=create_rows,
    )


def _record_upload(document, *, acting_user, context, event_data=None):
    data = {"name": document.original_name, "size": document.size, "sha256": document.sha256}
    data.update(event_data or {})
    if document.contract_id:
        data["contract"] = str(document.contract.public_id)
    record_event(
        EventType.DOCUMENT_UPLOADED,
        actor=acting_user,
        ej=document.ej,
        target=document,
        data=data,
        context=context,
    )
    queue_scan(document)  # sends the task once the transaction commits
