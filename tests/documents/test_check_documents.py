"""`manage.py check_documents` (documents/integrity.py): orphans, missing files, changed bytes. Read-only.

Each test gets a storage of its own (a temporary folder, or a fresh prefix of the SeaweedFS bucket):
the shared test folder holds the files of other tests, whose rows are rolled back.
"""

import datetime
import hashlib
import io
import os
import time
import uuid
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from documents import integrity
from documents.management.commands import check_documents
from tests.documents import conftest_s3
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import ClosureReceiptFactory


# The SeaweedFS fixtures (tests/documents/conftest_s3.py), made visible to pytest in this module.
s3_server = conftest_s3.s3_server
s3_prefix_storage = conftest_s3.s3_prefix_storage


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_with(content: bytes):
    return DocumentFactory(content=content)


def receipt_with(content: bytes):
    return ClosureReceiptFactory(content=content)


def run(*args) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("check_documents", *args, stdout=out, no_color=True)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


@pytest.fixture
def storage(settings, tmp_path):
    """The documents storage in a folder of this test's own."""
    options = {"location": str(tmp_path / "documents-storage"), "base_url": None}
    storage_settings = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": options}
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings, "documents": storage_settings}
    return storages["documents"]


def test_the_help_is_the_module_docstring():
    assert check_documents.Command.help == check_documents.__doc__
    assert "Read-only" in check_documents.__doc__


def test_an_empty_storage_has_no_problem(storage):
    output, error = run("--verify-hashes")

    assert error is None
    assert "aucun problème" in output


def test_a_clean_state_gives_exit_0_and_aucun_probleme(storage):
    document_with(b"%PDF-1.4 one")
    document_with(b"%PDF-1.4 two")
    receipt_with(b"%PDF-1.7 receipt")

    output, error = run("--verify-hashes", "--grace-minutes=0")

    assert error is None
    assert "document : 2 ligne(s) en base, 2 objet(s) sous documents/" in output
    assert "attestation de clôture : 1 ligne(s) en base, 1 objet(s) sous receipts/" in output
    assert "Empreintes SHA-256 recalculées : 3 fichier(s)." in output
    assert output.rstrip().endswith("Contrôle terminé : aucun problème.")


def test_an_orphan_object_is_reported_and_left_in_place(storage):
    document_with(b"%PDF-1.4 kept")
    orphan = storage.save(f"documents/{uuid.uuid4()}", ContentFile(b"interrupted upload"))

    output, error = run("--grace-minutes=0")

    assert error is not None and error.returncode == 1
    assert "1 problème(s) — 1 orphelin(s), 0 fichier(s) manquant(s)" in str(error)
    assert "Objets sans ligne en base (orphelins) : 1" in output
    assert f"  {orphan} (document, 18 octets, déposé le " in output
    assert storage.exists(orphan)  # reported, never deleted


def test_an_orphan_receipt_is_reported(storage):
    orphan = storage.save(f"receipts/{uuid.uuid4()}.pdf", ContentFile(b"%PDF-1.7"))

    output, error = run("--grace-minutes=0")

    assert error is not None
    assert f"  {orphan} (attestation de clôture, 8 octets" in output


def test_a_recent_orphan_is_listed_but_not_a_problem_until_the_grace_period_ends(storage):
    orphan = storage.save(f"documents/{uuid.uuid4()}", ContentFile(b"upload in progress"))

    output, error = run()

    assert error is None
    assert "Objets récents sans ligne (moins de 60 min, dépôt peut-être en cours, non comptés) : 1" in output
    assert orphan in output
    assert "aucun problème" in output

    two_hours_ago = time.time() - 2 * 3600
    os.utime(storage.path(orphan), (two_hours_ago, two_hours_ago))
    output, error = run()
    assert error is not None
    assert "Objets sans ligne en base (orphelins) : 1" in output


def test_a_missing_file_is_reported(storage):
    document = document_with(b"%PDF-1.4 lost")
    receipt = receipt_with(b"%PDF-1.7 lost")
    os.remove(storage.path(document.file.name))
    os.remove(storage.path(receipt.file.name))

    output, error = run("--grace-minutes=0")

    assert error is not None
    assert "0 orphelin(s), 2 fichier(s) manquant(s)" in str(error)
    assert "Lignes dont le fichier manque : 2" in output
    assert f"  document n° {document.pk} : {document.file.name}" in output
    assert f"  attestation de clôture n° {receipt.pk} : {receipt.file.name}" in output


def test_a_tampered_file_is_reported_only_with_verify_hashes(storage):
    document = document_with(b"%PDF-1.4 original")
    untouched = document_with(b"%PDF-1.4 untouched")
    with open(storage.path(document.file.name), "r+b") as f:
        f.write(b"%PDF-1.4 TAMPERED")  # same size, other bytes

    output, error = run("--grace-minutes=0")
    assert error is None
    assert "Empreintes SHA-256 non vérifiées (--verify-hashes pour les recalculer)." in output

    output, error = run("--verify-hashes", "--grace-minutes=0")
    assert error is not None
    assert "1 empreinte(s) différente(s)" in str(error)
    assert "Fichiers dont l'empreinte ne correspond plus : 1" in output
    assert (
        f"  document n° {document.pk} : {document.file.name} — attendu {document.sha256}, 17 octets ; "
        f"lu {sha256(b'%PDF-1.4 TAMPERED')}, 17 octets"
    ) in output
    assert untouched.file.name not in output


def test_a_truncated_receipt_is_reported_with_verify_hashes(storage):
    receipt = receipt_with(b"%PDF-1.7 full receipt")
    with open(storage.path(receipt.file.name), "r+b") as f:
        f.truncate(4)

    output, error = run("--verify-hashes")

    assert error is not None
    assert f"  attestation de clôture n° {receipt.pk} : {receipt.file.name} — attendu {receipt.file_sha256} ;" in (
        output
    )


def test_hashes_are_read_in_chunks(storage, monkeypatch):
    content = os.urandom(3 * integrity.CHUNK_SIZE + 5)
    document_with(content)
    sizes = []

    class Spy:
        def __init__(self):
            self._hash = hashlib.sha256()

        def update(self, chunk):
            sizes.append(len(chunk))
            self._hash.update(chunk)

        def hexdigest(self):
            return self._hash.hexdigest()

    monkeypatch.setattr(integrity, "hashlib", SimpleNamespace(sha256=Spy))
    report = integrity.check_integrity(verify_hashes=True)

    assert report.problems == 0 and report.hashed == 1
    assert max(sizes) <= integrity.CHUNK_SIZE and sum(sizes) == len(content)


def test_a_row_committed_while_the_storage_is_listed_is_no_orphan(storage, monkeypatch):
    """The object is written before its row (R4): an upload finishing during the check is not reported."""
    real_stored_names = integrity.stored_names
    created = []

    def listing_during_an_upload(storage, directory):
        names = list(real_stored_names(storage, directory))
        if directory == "documents":
            created.append(document_with(b"%PDF-1.4 uploaded meanwhile"))
            names.append(created[0].file.name)
        return iter(names)

    monkeypatch.setattr(integrity, "stored_names", listing_during_an_upload)
    report = integrity.check_integrity(grace=datetime.timedelta(0))

    assert created and report.problems == 0 and report.recent_orphans == []


def test_a_row_without_a_file_name_is_reported_missing(storage):
    document = document_with(b"%PDF-1.4")
    type(document).objects.filter(pk=document.pk).update(file="")

    output, error = run()

    assert error is not None
    assert f"  document n° {document.pk} : (aucun fichier enregistré)" in output


def test_a_negative_grace_is_refused(storage):
    with pytest.raises(CommandError, match="--grace-minutes"):
        call_command("check_documents", "--grace-minutes=-1", stdout=io.StringIO())


def test_on_s3_orphans_missing_and_tampered_files_are_reported(s3_prefix_storage, s3_server):
    storage, client, bucket = s3_prefix_storage, s3_server.client(), s3_server.bucket
    prefix = storage.location
    clean = document_with(b"%PDF-1.4 clean")
    receipt = receipt_with(b"%PDF-1.7 receipt")
    output, error = run("--verify-hashes", "--grace-minutes=0")
    assert error is None, output
    assert "document : 1 ligne(s) en base, 1 objet(s) sous documents/" in output
    assert "aucun problème" in output

    lost = document_with(b"%PDF-1.4 lost")
    tampered = document_with(b"%PDF-1.4 original")
    orphan = storage.save(f"documents/{uuid.uuid4()}", ContentFile(b"interrupted upload"))
    client.delete_object(Bucket=bucket, Key=f"{prefix}/{lost.file.name}")
    client.put_object(Bucket=bucket, Key=f"{prefix}/{tampered.file.name}", Body=b"%PDF-1.4 TAMPERED")

    output, error = run("--verify-hashes", "--grace-minutes=0")

    assert error is not None and error.returncode == 1
    assert "3 problème(s) — 1 orphelin(s), 1 fichier(s) manquant(s), 1 empreinte(s) différente(s)" in str(error)
    assert f"  {orphan} (document, 18 octets, déposé le " in output
    assert f"  document n° {lost.pk} : {lost.file.name}" in output
    assert f"  document n° {tampered.pk} : {tampered.file.name} — attendu {tampered.sha256}" in output
    assert clean.file.name not in output and receipt.file.name not in output
    assert "Empreintes SHA-256 recalculées : 3 fichier(s)." in output  # the lost one could not be read
    assert client.head_object(Bucket=bucket, Key=f"{prefix}/{orphan}")  # reported, never deleted


def test_on_s3_the_listing_goes_past_one_page_of_1000_keys(s3_prefix_storage, s3_server):
    client, bucket, prefix = s3_server.client(), s3_server.bucket, s3_prefix_storage.location
    names = {f"documents/{uuid.uuid4()}" for _ in range(1005)}
    for name in names:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=b"x")

    assert set(integrity.stored_names(s3_prefix_storage, "documents")) == names
