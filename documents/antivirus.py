"""Antivirus scanning of the stored documents by clamd (SECURITY.md E9 and §2).

Uploads are always accepted and stored « en attente »; once the upload's transaction commits, a task
streams the stored file to clamd and records the verdict:

- « sain »: anybody the download view authorises may download it. While scanning is enabled, only
  then (SECURITY.md E9): « en attente », nobody downloads it, not even its uploader nor an agent;
- « infecté » (signature name in `scan_detail`): quarantined for good. Nobody downloads it, users
  cannot delete it, it is kept for analysis; the uploader and the ARS are told by e-mail and the
  event is audited. A later scan never clears it: an agent decides;
- « erreur » (reason in `scan_detail`): clamd could not give a verdict (down, timeout, size limit…).
  Like a pending document, nobody downloads it until a re-scan (`manage.py rescan_documents`, run
  from cron) says « sain ». A re-scan that fails on a document already « sain » keeps that verdict
  and leaves `scanned_at` as it was, so that the next run tries again.

Signatures are a concern of the clamd service (freshclam on its side), never of this code or of its
build. Without CLAMD_SOCKET or CLAMD_HOST scanning is off (the demo): documents stay « en attente »
and remain downloadable, which `may_download` documents.

The clamd client speaks INSTREAM over a unix socket or TCP: `zINSTREAM\\0`, then chunks of at most
64 KB each preceded by its length (4 bytes, network order), then a zero length; the reply is
`stream: OK`, `stream: <signature> FOUND` or `<reason> ERROR`. The file is read from the storage
chunk by chunk, never whole in memory.
"""

import logging
import socket
import struct
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from audit.enums import EventType
from audit.services import record_event
from contracts.models import Contract
from documents import hooks
from documents.enums import ScanStatus
from documents.models import Document
from ecars.emails import send_templated_email


logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024


class ClamdError(Exception):
    """clamd answered, but gave no verdict (e.g. « INSTREAM size limit exceeded. ERROR »)."""


def scanning_enabled() -> bool:
    return bool(settings.CLAMD_SOCKET or settings.CLAMD_HOST)


def _connect() -> socket.socket:
    if settings.CLAMD_SOCKET:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(settings.CLAMD_TIMEOUT)
        try:
            sock.connect(settings.CLAMD_SOCKET)
        except OSError:
            sock.close()
            raise
        return sock
    return socket.create_connection((settings.CLAMD_HOST, settings.CLAMD_PORT), timeout=settings.CLAMD_TIMEOUT)


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while not reply.endswith(b"\0"):
        data = sock.recv(4096)
        if not data:
            break
        reply += data
    return reply.rstrip(b"\0").strip()


def scan_chunks(chunks: Iterable[bytes]) -> str | None:
    """Stream the chunks to clamd: None if clean, the signature's name if infected.

    Raises OSError (refused, missing socket, timeout…) or ClamdError (clamd's own error).
    """
    with _connect() as sock:
        try:
            sock.sendall(b"zINSTREAM\0")
            for chunk in chunks:
                view = memoryview(chunk)
                for start in range(0, len(view), CHUNK_SIZE):
                    part = view[start : start + CHUNK_SIZE]
                    sock.sendall(struct.pack("!L", len(part)))
                    sock.sendall(part)
            sock.sendall(struct.pack("!L", 0))
        except (BrokenPipeError, ConnectionResetError):
            # clamd stops reading when it refuses the stream (size limit): its reply says why.
            reply = _read_reply(sock)
            if not reply:
                raise
        else:
            reply = _read_reply(sock)
    text = reply.decode("utf-8", "replace")
    if text == "stream: OK":
        return None
    if text.startswith("stream: ") and text.endswith(" FOUND"):
        return text.removeprefix("stream: ").removesuffix(" FOUND")
    if text.endswith("ERROR"):
        raise ClamdError(text.removesuffix("ERROR").strip().rstrip("."))
    raise ClamdError(f"réponse inattendue de clamd : {text[:100]!r}")


class StoredFileError(Exception):
    """The stored file could not be read (missing, storage down…): not clamd's fault."""


def _stored_chunks(document: Document) -> Iterator[bytes]:
    try:
        with document.file.storage.open(document.file.name, "rb") as stored:
            while chunk := stored.read(CHUNK_SIZE):
                yield chunk
    except FileNotFoundError as e:
        raise StoredFileError(f"fichier introuvable dans le stockage ({document.file.name})") from e
    except Exception as e:
        raise StoredFileError(f"lecture du fichier impossible ({type(e).__name__})") from e


def queue_scan(document: Document) -> None:
    """After the commit, enqueue the scan task of this document.

    A no-op when scanning is off: the document stays « en attente » (`rescan_documents` picks it up
    once a clamd is configured).
    """
    if not scanning_enabled():
        return
    document_id = document.pk
    transaction.on_commit(lambda: scan_document.enqueue(document_id=document_id))


@task()
def scan_document(*, document_id: int) -> None:
    """Scan one stored document and record the verdict. Never raises for clamd's or the storage's failures."""
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        logger.warning("Analyse antivirus : le document %s n'existe plus.", document_id)
        return
    if document.scan_status == ScanStatus.INFECTE:
        logger.info("Analyse antivirus : le document %s est déjà en quarantaine.", document_id)
        return
    if not scanning_enabled():
        logger.info(
            "Analyse antivirus désactivée (ni CLAMD_SOCKET ni CLAMD_HOST) : document %s non analysé.", document_id
        )
        return

    signature, failure = None, ""
    try:
        signature = scan_chunks(_stored_chunks(document))
    except StoredFileError as e:
        failure = str(e)
    except TimeoutError:
        failure = f"clamd n'a pas répondu dans le délai ({settings.CLAMD_TIMEOUT} s)"
    except ClamdError as e:
        failure = f"clamd : {e}"
    except OSError as e:
        failure = f"clamd injoignable : {e.strerror or e}"
    except Exception as e:
        # The storage's own errors (S3…): still a verdict of « erreur », never a crashed worker.
        logger.exception("Analyse antivirus du document %s : erreur inattendue.", document_id)
        failure = f"erreur inattendue : {type(e).__name__}"
    if failure:
        logger.error("Analyse antivirus du document %s impossible : %s", document_id, failure)

    with transaction.atomic():
        document = (
            Document.objects.select_for_update(of=("self",))
            .select_related("ej__region", "uploaded_by")
            .get(pk=document_id)
        )
        if document.scan_status == ScanStatus.INFECTE:
            return
        if failure and document.scan_status == ScanStatus.SAIN:
            # A re-scan that could not run: the previous verdict stands, and the next run tries again.
            return
        if failure:
            document.scan_status, document.scan_detail = ScanStatus.ERREUR, failure[:255]
        elif signature:
            document.scan_status, document.scan_detail = ScanStatus.INFECTE, signature[:255]
        else:
            document.scan_status, document.scan_detail = ScanStatus.SAIN, ""
        document.scanned_at = timezone.now()
        document.save(update_fields=["scan_status", "scan_detail", "scanned_at"])
        if signature:
            logger.warning("Document %s infecté (%s) : mis en quarantaine.", document_id, signature)
            _quarantine(document, signature)


def _document_contracts(document: Document) -> list:
    """The contracts the document belongs to: its own, and those the apps built on `documents` tie it to
    (the contracts of the questions it is, or was, listed under)."""
    belongs = Q(pk=document.contract_id)
    for contract_ids in hooks.document_contracts.collect(document):
        belongs |= Q(pk__in=contract_ids)
    return list(Contract.objects.filter(belongs).select_related("ej__region", "ars_contact").order_by("pk"))


def _quarantine(document: Document, signature: str) -> None:
    record_event(
        EventType.DOCUMENT_INFECTED,
        ej=document.ej,
        target=document,
        data={"signature": signature, "sha256": document.sha256, "original_name": document.original_name},
    )
    contracts = _document_contracts(document)
    recipients = []
    if document.uploaded_by.is_active:
        recipients.append(document.uploaded_by.email)
    for contract in contracts or [None]:
        region = contract.ej.region if contract is not None else document.ej.region
        if contract is not None and contract.ars_contact is not None and contract.ars_contact.is_active:
            recipients.append(contract.ars_contact.email)
        else:
            recipients.append(region.support_email or settings.SUPPORT_EMAIL)
    context = {
        "document": document,
        "ej": document.ej,
        "contracts": contracts,
        "signature": signature,
        "uploaded_by": document.uploaded_by,
    }
    # One message per recipient: the establishment and the ARS never see each other's addresses.
    for address in dict.fromkeys(address for address in recipients if address):
        send_templated_email("documents/email/infected", to=[address], context=context)
