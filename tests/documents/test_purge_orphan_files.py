"""`manage.py purge_orphan_files` (documents/cleanup.py): the stored files a killed worker left without a row.

Each test gets a storage of its own (a temporary folder, or a fresh prefix of the SeaweedFS bucket), as in
test_check_documents.py: the shared test folder holds the files of other tests, whose rows are rolled back.
"""

import datetime
import io
import os
import time
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.enums import EventType
from audit.models import AuditEvent
from documents import cleanup, integrity
from documents.management.commands import purge_orphan_files
from documents.models import Document
from tests.documents import conftest_s3
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import ClosureReceiptFactory


s3_server = conftest_s3.s3_server
s3_prefix_storage = conftest_s3.s3_prefix_storage

TWO_HOURS = 2 * 3600


def run(*args) -> str:
    out = io.StringIO()
    call_command("purge_orphan_files", *args, stdout=out, stderr=io.StringIO(), no_color=True)
    return out.getvalue()


@pytest.fixture
def storage(settings, tmp_path):
    """The documents storage in a folder of this test's own."""
    options = {"location": str(tmp_path / "documents-storage"), "base_url": None}
    storage_settings = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": options}
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings, "documents": storage_settings}
    return storages["documents"]


def age(storage, name: str, seconds: int = TWO_HOURS):
    then = time.time() - seconds
    os.utime(storage.path(name), (then, then))


def orphan(storage, prefix: str, content: bytes = b"%PDF-1.7 interrupted", *, old: bool = True) -> str:
    name = storage.save(f"{prefix}/{uuid.uuid4()}.pdf", ContentFile(content))
    if old:
        age(storage, name)
    return name


def purge_events():
    return AuditEvent.objects.filter(event_type=EventType.COMMAND_RUN, data__operation="purge_orphan_files")


def test_the_help_is_the_module_docstring():
    assert purge_orphan_files.Command.help == purge_orphan_files.__doc__


def test_old_orphans_of_every_kind_are_deleted_with_one_event(storage):
    """A killed upload, closure and report each leave a file without a row: all three go, in one audited run."""
    document = DocumentFactory(content=b"%PDF-1.4 kept")
    receipt = ClosureReceiptFactory(content=b"%PDF-1.7 kept receipt")
    age(storage, document.file.name)
    age(storage, receipt.file.name)
    orphans = [orphan(storage, "documents"), orphan(storage, "receipts"), orphan(storage, "reports")]
    assert {kind.prefix for kind in integrity.kinds()} >= {"documents", "receipts", "reports"}

    output = run("--wet-run")

    assert not any(storage.exists(name) for name in orphans)
    for name, label in zip(orphans, ["document", "attestation de clôture", "rapport d'évaluation"], strict=True):
        assert f"  Supprimé : {name} ({label}, 20 octets, déposé le " in output
    assert "fichiers sans ligne supprimés : 3" in output
    # Files with rows are never touched, however old.
    assert storage.exists(document.file.name) and storage.exists(receipt.file.name)
    [event] = purge_events()
    assert event.actor is None
    assert event.data["grace_minutes"] == 60
    assert sorted(item["name"] for item in event.data["deleted"]) == sorted(orphans)
    _, error = check_documents()
    assert error is None


def check_documents():
    out = io.StringIO()
    try:
        call_command("check_documents", stdout=out, no_color=True)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_a_recent_orphan_is_kept_its_row_may_be_on_its_way(storage):
    """A write in progress: the file is stored, its row not committed yet."""
    recent = orphan(storage, "receipts", old=False)
    almost = orphan(storage, "documents")
    age(storage, almost, 50 * 60)

    output = run("--wet-run")

    assert storage.exists(recent) and storage.exists(almost)
    assert "fichiers sans ligne supprimés : 0" in output
    assert "fichiers sans ligne récents (moins de 60 min), conservés : 2" in output
    assert not purge_events().exists()  # nothing deleted, nothing to audit

    age(storage, almost, 61 * 60)
    run("--wet-run")
    assert not storage.exists(almost) and storage.exists(recent)


def test_the_dry_run_deletes_nothing(storage):
    name = orphan(storage, "reports")

    output = run()

    assert storage.exists(name)
    assert "Simulation (--wet-run pour écrire)" in output
    assert f"  À supprimer : {name} (rapport d'évaluation" in output
    assert "Bilan de la simulation (rien n'a été écrit) :" in output
    assert "fichiers sans ligne à supprimer : 1" in output
    assert not purge_events().exists()


def test_a_row_committed_after_the_listing_keeps_its_file(storage, monkeypatch):
    """The name is checked against its table again right before the deletion."""
    name = orphan(storage, "documents")
    document = DocumentFactory(content=b"%PDF-1.4 other")
    real_check = integrity.check_integrity

    def listing_then_a_commit(**kwargs):
        report = real_check(**kwargs)
        Document.objects.filter(pk=document.pk).update(file=name)  # the late row of a slow write
        return report

    monkeypatch.setattr(integrity, "check_integrity", listing_then_a_commit)
    output = run("--wet-run")

    assert storage.exists(name)
    assert f"  Conservé (sa ligne est arrivée entre-temps) : {name}" in output
    assert not purge_events().exists()


def test_a_grace_shorter_than_an_hour_is_refused(storage):
    name = orphan(storage, "documents", old=False)
    with pytest.raises(CommandError, match="--grace-minutes doit valoir au moins 60"):
        run("--wet-run", "--grace-minutes=59")
    assert storage.exists(name)


def test_on_s3_old_orphans_are_deleted_and_the_rest_kept(s3_prefix_storage, s3_server):
    storage, client, bucket = s3_prefix_storage, s3_server.client(), s3_server.bucket
    document = DocumentFactory(content=b"%PDF-1.4 kept")
    receipt = ClosureReceiptFactory(content=b"%PDF-1.7 kept receipt")
    names = [storage.save(f"{prefix}/{uuid.uuid4()}.pdf", ContentFile(b"x")) for prefix in ("documents", "receipts")]

    # S3 dates an object when it is written: the run is moved two hours ahead instead.
    kept = cleanup.purge_orphans(grace=datetime.timedelta(hours=1), delete=True)
    assert kept.orphans == [] and len(kept.kept_recent) == 2
    result = cleanup.purge_orphans(
        grace=datetime.timedelta(hours=1), delete=True, now=timezone.now() + datetime.timedelta(hours=2)
    )

    assert sorted(o.name for o in result.orphans) == sorted(names)
    prefix = storage.location
    for name in names:
        assert client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{name}")["KeyCount"] == 0
    for name in (document.file.name, receipt.file.name):
        assert client.head_object(Bucket=bucket, Key=f"{prefix}/{name}")
    assert purge_events().count() == 1
