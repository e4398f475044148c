"""Antivirus (SECURITY.md E9, §2): a real clamd on a signature database built from the EICAR string.

The `clamd` fixture (tests/documents/conftest.py) skips these tests, saying why, where ClamAV is not
installed; `make test` installs it.
"""

import datetime
import logging
import os
import socket
import struct
import threading
import tracemalloc
from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.core.files import File
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.enums import EventType
from audit.models import AuditEvent
from documents.antivirus import (
    CHUNK_SIZE,
    ClamdError,
    queue_scan,
    scan_chunks,
    scan_document,
    scanning_enabled,
)
from documents.enums import ScanStatus
from documents.perms import may_download
from tests.accounts.factories import UserFactory
from tests.conftest import free_port
from tests.contracts.factories import ContractFactory, MembershipFactory
from tests.documents.conftest import EICAR, EICAR_SIGNATURE
from tests.documents.factories import PDF_BYTES, DocumentFactory
from tests.evaluation.factories import AttachmentFactory, IndicatorValueFactory


@pytest.fixture
def scanning(settings, clamd):
    """Scanning on, against the real clamd's unix socket."""
    settings.CLAMD_SOCKET, settings.CLAMD_HOST, settings.CLAMD_TIMEOUT = clamd, "", 10
    return clamd


@pytest.fixture
def scanning_off(settings):
    settings.CLAMD_SOCKET, settings.CLAMD_HOST = "", ""


def stored_document(content: bytes = PDF_BYTES, **kwargs):
    """A document whose file, with these bytes, is in the documents storage."""
    return DocumentFactory(content=content, **kwargs)


def call_command_output(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def scan_after_commit(document, capture):
    """What the upload service does: queue the scan inside its transaction; it runs after the commit."""
    with capture(execute=True):
        queue_scan(document)
    document.refresh_from_db()
    return document


# Verdicts from the real clamd


def test_a_clean_pdf_is_sain(scanning, django_capture_on_commit_callbacks):
    document = scan_after_commit(stored_document(), django_capture_on_commit_callbacks)

    assert document.scan_status == ScanStatus.SAIN
    assert document.scan_detail == ""
    assert timezone.now() - document.scanned_at < datetime.timedelta(minutes=1)
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(event_type=EventType.DOCUMENT_INFECTED).exists()


def test_the_eicar_file_is_quarantined_audited_and_notified(
    scanning, django_capture_on_commit_callbacks, ej, member, other_member, ars_staff
):
    ars_contact = UserFactory(ars_staff=True, region=ej.region)
    contract = ContractFactory(ej=ej, ars_contact=ars_contact, name="CAQES 2026")
    document = stored_document(EICAR, ej=ej, uploaded_by=member, original_name="facture.pdf")
    # The document belongs to the contract through a question of its self-evaluation.
    AttachmentFactory(document=document, indicator_value=IndicatorValueFactory(self_evaluation__contract=contract))

    document = scan_after_commit(document, django_capture_on_commit_callbacks)

    assert document.scan_status == ScanStatus.INFECTE
    assert document.scan_detail == EICAR_SIGNATURE
    assert document.scanned_at is not None
    # Kept for analysis: the stored bytes are still there.
    with document.file.open("rb") as stored:
        assert stored.read() == EICAR

    event = AuditEvent.objects.get(event_type=EventType.DOCUMENT_INFECTED)
    assert event.ej == ej
    assert event.object_id == str(document.public_id)
    assert event.actor is None
    assert event.data["signature"] == EICAR_SIGNATURE

    # One message each: the uploader and the contract's ARS contact never see each other's address.
    assert sorted(message.to for message in mail.outbox) == sorted([[member.email], [ars_contact.email]])
    for message in mail.outbox:
        assert "Document infecté mis en quarantaine" in message.subject
        assert "facture.pdf" in message.body
        assert EICAR_SIGNATURE in message.body
        assert "CAQES 2026" in message.body
        assert "mis en quarantaine" in message.body
        ((html, mimetype),) = message.alternatives
        assert mimetype == "text/html"
        assert EICAR_SIGNATURE in html

    # Quarantine: nobody downloads it, not even its uploader or the ARS.
    for user in (member, other_member, ars_staff, ars_contact, AnonymousUser()):
        assert not may_download(document, user)


def test_without_an_ars_contact_the_region_support_is_told(scanning, django_capture_on_commit_callbacks, ej, member):
    contract = ContractFactory(ej=ej, ars_contact=None)
    document = stored_document(EICAR, ej=ej, contract=contract, uploaded_by=member)

    scan_after_commit(document, django_capture_on_commit_callbacks)

    assert sorted(message.to for message in mail.outbox) == sorted([[member.email], [ej.region.support_email]])


def test_a_quarantined_document_stays_quarantined(scanning, django_capture_on_commit_callbacks):
    """A later scan never clears a quarantine, even if the signature went away: an agent decides."""
    document = stored_document(PDF_BYTES, scan_status=ScanStatus.INFECTE, scan_detail="Old.Signature")

    scan_document.call(document_id=document.pk)

    document.refresh_from_db()
    assert (document.scan_status, document.scan_detail) == (ScanStatus.INFECTE, "Old.Signature")


def test_a_stream_beyond_clamd_limit_is_an_error_not_a_crash(scanning):
    """StreamMaxLength is 50M: clamd refuses more, and says so (no broken pipe passed off as an answer)."""
    megabyte = b"\0" * (1024 * 1024)
    with pytest.raises(ClamdError, match="size limit"):
        scan_chunks(megabyte for _ in range(51))


def test_a_20_mb_file_scans_without_being_loaded_in_memory(scanning, tmp_path):
    big = tmp_path / "gros.pdf"
    with big.open("wb") as f:
        for _ in range(20):
            f.write(os.urandom(1024 * 1024))
    with big.open("rb") as f:
        document = DocumentFactory(file=File(f, name="gros.pdf"), size=20 * 1024 * 1024)

    tracemalloc.start()
    try:
        scan_document.call(document_id=document.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    document.refresh_from_db()
    assert document.scan_status == ScanStatus.SAIN
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a 20 MB file"


# clamd unavailable: « erreur », logged, never an exception


def test_clamd_stopped_gives_erreur_without_exception(settings, tmp_path, caplog, django_capture_on_commit_callbacks):
    settings.CLAMD_SOCKET = str(tmp_path / "clamd-stopped.sock")
    document = stored_document()

    with caplog.at_level(logging.ERROR, logger="documents.antivirus"):
        scan_document.call(document_id=document.pk)  # raises nothing

    document.refresh_from_db()
    assert document.scan_status == ScanStatus.ERREUR
    assert document.scan_detail.startswith("clamd injoignable")
    assert document.scanned_at is not None
    assert f"document {document.pk}" in caplog.text
    # The same through the queue, as the upload service does it.
    assert scan_after_commit(stored_document(), django_capture_on_commit_callbacks).scan_status == ScanStatus.ERREUR
    assert mail.outbox == []


def test_connection_refused_over_tcp_gives_erreur(settings):
    settings.CLAMD_SOCKET, settings.CLAMD_HOST, settings.CLAMD_PORT = "", "127.0.0.1", free_port()
    document = stored_document()

    scan_document.call(document_id=document.pk)

    document.refresh_from_db()
    assert document.scan_status == ScanStatus.ERREUR
    assert "refused" in document.scan_detail or "refusée" in document.scan_detail


def test_a_silent_clamd_times_out_into_erreur(settings, tmp_path):
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(path)
        silent.listen()  # accepts connections in its backlog, never answers
        settings.CLAMD_SOCKET, settings.CLAMD_TIMEOUT = path, 1
        document = stored_document()

        scan_document.call(document_id=document.pk)

    document.refresh_from_db()
    assert document.scan_status == ScanStatus.ERREUR
    assert document.scan_detail == "clamd n'a pas répondu dans le délai (1 s)"


def test_a_missing_stored_file_gives_erreur(scanning):
    document = stored_document()
    document.file.storage.delete(document.file.name)

    scan_document.call(document_id=document.pk)

    document.refresh_from_db()
    assert document.scan_status == ScanStatus.ERREUR
    assert document.scan_detail.startswith("fichier introuvable dans le stockage")


def test_a_failed_rescan_keeps_a_clean_verdict(settings, tmp_path):
    """clamd down during the periodic re-scan: a « sain » document stays so, and is tried again next time."""
    scanned_at = timezone.now() - datetime.timedelta(days=40)
    document = stored_document(scan_status=ScanStatus.SAIN, scanned_at=scanned_at)
    settings.CLAMD_SOCKET = str(tmp_path / "clamd-stopped.sock")

    scan_document.call(document_id=document.pk)

    document.refresh_from_db()
    assert (document.scan_status, document.scanned_at) == (ScanStatus.SAIN, scanned_at)


# The protocol over TCP, against a minimal clamd impostor that records what it receives


class _FakeClamd(threading.Thread):
    def __init__(self, reply: bytes):
        super().__init__(daemon=True)
        self.reply, self.command, self.chunk_sizes, self.received = reply, b"", [], b""
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]

    def _read(self, connection, size):
        data = b""
        while len(data) < size:
            data += connection.recv(size - len(data))
        return data

    def run(self):
        connection, _ = self.server.accept()
        with connection, self.server:
            self.command = self._read(connection, len(b"zINSTREAM\0"))
            while size := struct.unpack("!L", self._read(connection, 4))[0]:
                self.chunk_sizes.append(size)
                self.received += self._read(connection, size)
            connection.sendall(self.reply)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [(b"stream: OK\0", None), (b"stream: Win.Test.Bad-1 FOUND\0", "Win.Test.Bad-1")],
)
def test_instream_over_tcp_sends_size_prefixed_chunks_of_64_kb(settings, reply, verdict):
    fake = _FakeClamd(reply)
    fake.start()
    settings.CLAMD_SOCKET, settings.CLAMD_HOST, settings.CLAMD_PORT, settings.CLAMD_TIMEOUT = (
        "",
        "127.0.0.1",
        fake.port,
        5,
    )
    content = os.urandom(150_000)

    assert scan_chunks([content[:100_000], content[100_000:]]) == verdict

    fake.join(5)
    assert fake.command == b"zINSTREAM\0"
    assert fake.received == content
    assert max(fake.chunk_sizes) <= CHUNK_SIZE


def test_an_unexpected_reply_is_an_error(settings):
    fake = _FakeClamd(b"UNKNOWN COMMAND\0")
    fake.start()
    settings.CLAMD_SOCKET, settings.CLAMD_HOST, settings.CLAMD_PORT = "", "127.0.0.1", fake.port

    with pytest.raises(ClamdError, match="réponse inattendue"):
        scan_chunks([b"abc"])
    fake.join(5)


# Who may download, by status


@pytest.fixture
def personas(ej, member, ars_staff):
    colleague = MembershipFactory(ej=ej).user
    return {"uploader": member, "colleague": colleague, "ars": ars_staff, "anonymous": AnonymousUser()}


@pytest.mark.parametrize("status", [ScanStatus.EN_ATTENTE, ScanStatus.ERREUR, ScanStatus.INFECTE])
def test_while_scanning_nobody_downloads_a_document_not_yet_sain(settings, personas, status):
    """SECURITY.md E9: not the uploader, not the ARS either (issue 9)."""
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"
    document = DocumentFactory(uploaded_by=personas["uploader"], scan_status=status)

    allowed = {name for name, user in personas.items() if may_download(document, user)}

    assert allowed == set()


def test_clean_documents_are_downloadable(settings, personas):
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"
    document = DocumentFactory(uploaded_by=personas["uploader"], scan_status=ScanStatus.SAIN)

    assert all(may_download(document, user) for user in personas.values())


def test_scanning_disabled_pending_is_downloadable_error_is_not(scanning_off, personas):
    """The demo has no clamd: no verdict will ever come, so pending documents are served (documented).
    A document whose scan failed while a clamd was configured is not: nobody downloads it."""
    assert not scanning_enabled()
    pending = DocumentFactory(uploaded_by=personas["uploader"])
    failed = DocumentFactory(uploaded_by=personas["uploader"], scan_status=ScanStatus.ERREUR)
    infected = DocumentFactory(uploaded_by=personas["uploader"], scan_status=ScanStatus.INFECTE)

    assert all(may_download(pending, user) for user in personas.values())
    assert not any(may_download(failed, user) for user in personas.values())
    assert not any(may_download(infected, user) for user in personas.values())


def test_scanning_disabled_queue_scan_leaves_the_document_pending(scanning_off, django_capture_on_commit_callbacks):
    document = stored_document(EICAR)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue_scan(document)

    assert callbacks == []
    document.refresh_from_db()
    assert (document.scan_status, document.scanned_at) == (ScanStatus.EN_ATTENTE, None)


# The periodic re-scan


def _rescan_world():
    long_ago = timezone.now() - datetime.timedelta(days=40)
    recently = timezone.now() - datetime.timedelta(days=5)
    # A signature published after the upload: the file was « sain » 40 days ago, it is infected now.
    return {
        "never": stored_document(),
        "failed": stored_document(scan_status=ScanStatus.ERREUR, scanned_at=recently),
        "old": stored_document(EICAR, scan_status=ScanStatus.SAIN, scanned_at=long_ago),
        "recent": stored_document(scan_status=ScanStatus.SAIN, scanned_at=recently),
        "quarantined": stored_document(EICAR, scan_status=ScanStatus.INFECTE, scanned_at=long_ago),
    }


def test_rescan_dry_run_only_counts(scanning):
    documents = _rescan_world()
    before = {name: (d.scan_status, d.scanned_at) for name, d in documents.items()}

    out = call_command_output("rescan_documents")

    assert out.startswith("3 document(s) à analyser")
    assert "--wet-run" in out
    for name, document in documents.items():
        document.refresh_from_db()
        assert (document.scan_status, document.scanned_at) == before[name], name
    assert call_command_output("rescan_documents", "--older-than", "1").startswith("4 document(s)")


def test_rescan_wet_run_enqueues_the_due_documents(scanning, django_capture_on_commit_callbacks):
    documents = _rescan_world()
    recent_scan = documents["recent"].scanned_at

    with django_capture_on_commit_callbacks(execute=True):
        out = call_command_output("rescan_documents", "--wet-run", "--batch-size", "2")

    assert out.strip() == "3 document(s) mis en file d'analyse antivirus."
    for document in documents.values():
        document.refresh_from_db()
    assert documents["never"].scan_status == ScanStatus.SAIN
    assert documents["failed"].scan_status == ScanStatus.SAIN
    assert (documents["old"].scan_status, documents["old"].scan_detail) == (ScanStatus.INFECTE, EICAR_SIGNATURE)
    assert documents["recent"].scanned_at == recent_scan
    assert AuditEvent.objects.filter(event_type=EventType.DOCUMENT_INFECTED).count() == 1
    assert len(mail.outbox) == 2  # the uploader of « old », and its region's support (no contract)


def test_rescan_wet_run_needs_a_clamd(scanning_off):
    with pytest.raises(CommandError, match="Aucun clamd configuré"):
        call_command("rescan_documents", "--wet-run")
