"""`manage.py backup` and `manage.py verify_backup` (documents/backup.py), and the README's restore drill.

The backup reads the database as pg_dump does, through a connection of its own: it sees committed rows
only. The tests that back rows up therefore commit them (`transaction=True`); each gets a storage of its
own (a temporary folder, or a fresh prefix of the SeaweedFS bucket) and a backup folder of its own.
"""

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from documents import backup
from documents.management.commands import backup as backup_command
from documents.management.commands import verify_backup as verify_command
from documents.models import Document
from evaluation.models import ClosureReceipt, Report
from tests.accounts.factories import UserFactory
from tests.documents import conftest_s3
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import ClosureReceiptFactory, SelfEvaluationFactory


# The SeaweedFS fixtures (tests/documents/conftest_s3.py), made visible to pytest in this module.
s3_server = conftest_s3.s3_server

committed = pytest.mark.django_db(transaction=True)
DUMP = backup.DUMP


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(command, *args) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command(command, *[str(arg) for arg in args], stdout=out, stderr=io.StringIO(), no_color=True)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def the_backup(folder: Path) -> Path:
    (name,) = entries(folder)
    assert backup.STAMP.match(name), name
    return folder / name


def database_settings() -> dict:
    return connections["default"].settings_dict


def database_url(name: str) -> str:
    config = database_settings()
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    return f"postgres://{config['USER']}{password}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{name}"


def pg_environment() -> dict:
    config = database_settings()
    env = {**os.environ, "PGHOST": config["HOST"] or "127.0.0.1", "PGPORT": str(config["PORT"] or 5432)}
    env["PGUSER"] = config["USER"]
    if config["PASSWORD"]:
        env["PGPASSWORD"] = config["PASSWORD"]
    return env


@pytest.fixture
def storage(settings, tmp_path):
    """The documents storage in a folder of this test's own."""
    options = {"location": str(tmp_path / "documents-storage"), "base_url": None}
    storage_settings = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": options}
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings, "documents": storage_settings}
    return storages["documents"]


@pytest.fixture
def backups(tmp_path) -> Path:
    folder = tmp_path / "backups"
    folder.mkdir()
    return folder


def store_every_kind():
    """Three documents, a closure receipt and an evaluation report, committed (in a `transaction=True` test)."""
    documents = [DocumentFactory(content=f"%PDF-1.4 pièce {n}".encode()) for n in range(3)]
    receipt = ClosureReceiptFactory(content=b"%PDF-1.7 attestation")
    report_bytes = b"%PDF-1.7 rapport"
    report = Report.objects.create(
        self_evaluation=SelfEvaluationFactory(closed=True),
        version=1,
        file=ContentFile(report_bytes, name="rapport.pdf"),
        file_sha256=sha256(report_bytes),
        generated_by=UserFactory(),
        generated_at=timezone.now(),
    )
    return documents, receipt, report


@pytest.fixture
def restored_database():
    """A fresh database's name, created by the test (createdb) and dropped at the end."""
    name = f"ecars_drill_{uuid.uuid4().hex[:12]}"
    yield name
    subprocess.run(["dropdb", "--if-exists", "--force", name], env=pg_environment(), check=True)


def manage(*args, **env) -> subprocess.CompletedProcess:
    """`manage.py …` in a subprocess with the production settings, as the ops team runs it."""
    environment = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "/nonexistent",  # ignore a developer's .env
        "DJANGO_SETTINGS_MODULE": "ecars.settings",
        "SECRET_KEY": "restore-drill",
        "HTTPS": "false",
        **env,
    }
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=environment,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )


def test_the_help_is_the_module_docstring():
    assert backup_command.Command.help == backup_command.__doc__
    assert verify_command.Command.help == verify_command.__doc__
    assert "Read-only" in verify_command.__doc__


@committed
def test_the_dry_run_says_what_it_would_write_and_writes_nothing(storage, backups):
    documents, _, _ = store_every_kind()

    output, error = run("backup", backups, "--with-files")

    assert error is None, output
    assert output.startswith("Simulation (--wet-run pour écrire) : rien ne sera enregistré ni envoyé.")
    assert f"Sauvegarde prévue dans {backups}/" in output
    assert f"pg_dump --format=custom de la base « {database_settings()['NAME']} »" in output
    assert "Bilan de la simulation (rien n'a été écrit) :" in output
    assert "  lignes « document » : 3" in output
    assert "  lignes « attestation de clôture » : 1" in output
    assert "  lignes « rapport d'évaluation » : 1" in output
    assert "  lignes du manifeste : 5" in output
    assert f"  octets des fichiers dont la base enregistre la taille : {sum(d.size for d in documents)}" in output
    assert "  fichiers à copier : 5" in output
    assert entries(backups) == []


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(CommandError, match=r"Sauvegarde échouée : Le dossier .*/nulle-part n'existe pas"):
        call_command("backup", str(tmp_path / "nulle-part"), "--wet-run", stdout=io.StringIO())
    assert not (tmp_path / "nulle-part").exists()


def test_a_missing_pg_dump_is_refused_clearly(backups, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(CommandError, match=r"pg_dump est introuvable : installez le client PostgreSQL"):
        call_command("backup", str(backups), "--wet-run", stdout=io.StringIO())
    assert entries(backups) == []


def test_a_backup_of_the_same_second_is_refused_and_the_first_kept(backups):
    moment = timezone.now()
    first = backup.make_backup(backups, wet_run=True, now=moment)
    sums = (first.path / "SHA256SUMS").read_text()

    with pytest.raises(backup.BackupError, match=r"Une sauvegarde \d{8}T\d{6}Z existe déjà dans "):
        backup.make_backup(backups, wet_run=True, now=moment)
    assert entries(backups) == [first.path.name]
    assert (first.path / "SHA256SUMS").read_text() == sums


def test_sqlite_is_refused_clearly(backups, monkeypatch):
    monkeypatch.setitem(database_settings(), "ENGINE", "django.db.backends.sqlite3")

    with pytest.raises(CommandError, match="ne prend en charge que PostgreSQL ; .* django.db.backends.sqlite3"):
        call_command("backup", str(backups), "--wet-run", stdout=io.StringIO())
    assert entries(backups) == []


def test_an_unreachable_database_leaves_nothing(backups, monkeypatch):
    monkeypatch.setitem(database_settings(), "HOST", "127.0.0.1")
    monkeypatch.setitem(database_settings(), "PORT", "1")  # nothing listens there

    output, error = run("backup", backups, "--wet-run")

    assert error is not None and error.returncode == 1
    assert str(error).startswith("Sauvegarde échouée : Connexion impossible à la base ")
    assert entries(backups) == []


@pytest.mark.slow_subprocess
@committed
def test_a_failing_pg_dump_removes_the_partial_folder(storage, backups):
    """pg_dump gives up behind a lock (here an exclusive lock held by another session, as a migration would):
    the backup fails with its message and leaves neither a backup nor a partial folder."""
    DocumentFactory()
    with psycopg.connect(**connections["default"].get_connection_params()) as blocker:
        blocker.execute("LOCK TABLE contracts_region IN ACCESS EXCLUSIVE MODE")

        output, error = run("backup", backups, "--wet-run", "--lock-wait-seconds=1")

    assert error is not None and error.returncode == 1
    assert str(error).startswith("Sauvegarde échouée : pg_dump a échoué (code 1) : ")
    assert "contracts_region" in str(error)
    assert entries(backups) == []


@committed
def test_a_missing_or_changed_file_cancels_a_backup_with_files(storage, backups):
    kept = DocumentFactory(content=b"%PDF-1.4 kept")
    lost = DocumentFactory(content=b"%PDF-1.4 lost")
    changed = DocumentFactory(content=b"%PDF-1.4 original")
    storage.delete(lost.file.name)
    Path(storage.path(changed.file.name)).write_bytes(b"%PDF-1.4 CHANGED")

    output, error = run("backup", backups, "--wet-run", "--with-files")

    assert error is not None and error.returncode == 1
    message = str(error)
    assert "Copie des fichiers impossible pour 2 ligne(s), sauvegarde annulée" in message
    assert f"document n° {lost.pk} : fichier absent du stockage ({lost.file.name})" in message
    assert f"document n° {changed.pk} : {changed.file.name} — attendu {changed.sha256}, 17 octets ; lu " in message
    assert f"n° {kept.pk} " not in message
    assert entries(backups) == []


@pytest.mark.slow_subprocess
@committed
def test_the_restore_drill(storage, backups, restored_database):
    """The README's drill: backup, createdb, pg_restore, verify_backup --database-url, check_documents."""
    documents, receipt, report = store_every_kind()

    output, error = run("backup", backups, "--wet-run", "--with-files")

    assert error is None, output
    path = the_backup(backups)
    assert f"Sauvegarde écrite dans {path} :" in output
    assert "  lignes du manifeste : 5" in output and "  fichiers copiés : 5" in output
    assert entries(path) == ["SHA256SUMS", "database.dump", "files", "manifest.json"]
    # The dump and the copies hold personal data: for the service account only.
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert {stat.S_IMODE(file.stat().st_mode) for file in path.rglob("*") if file.is_file()} == {0o600}
    assert entries(path / "files") == ["documents", "receipts", "reports"]
    assert (path / "files" / documents[0].file.name).read_bytes() == "%PDF-1.4 pièce 0".encode()
    manifest = json.loads((path / "manifest.json").read_text())
    assert {(row["kind"], row["id"], row["name"], row["size"], row["sha256"]) for row in manifest["rows"]} == {
        *(("document", d.pk, d.file.name, d.size, d.sha256) for d in documents),
        ("attestation de clôture", receipt.pk, receipt.file.name, None, receipt.file_sha256),
        ("rapport d'évaluation", report.pk, report.file.name, None, report.file_sha256),
    }
    if shutil.which("sha256sum"):  # the backup's own sums, as the system tool reads them
        subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=path, check=True)

    # Rows added after the backup are not in it: the restored database must not have them.
    DocumentFactory()

    # Restore into a fresh database, as the README says.
    env = pg_environment()
    subprocess.run(["createdb", restored_database], env=env, check=True)
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", f"--dbname={restored_database}", path / DUMP],
        env=env,
        check=True,
        capture_output=True,
    )
    url = database_url(restored_database)
    drill = manage("verify_backup", str(backups), "--database-url", url, DATABASE_URL=url)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert f"Vérification de la sauvegarde {path} (lecture seule" in drill.stdout
    assert "Archive PostgreSQL lisible (pg_restore --list : " in drill.stdout
    assert "Fichiers des lignes vérifiés dans la copie de la sauvegarde (files/)." in drill.stdout
    assert f"Base comparée au manifeste : « {restored_database} » sur " in drill.stdout
    assert "(5 ligne(s) lue(s))" in drill.stdout
    assert "Sauvegarde vérifiée : aucun problème." in drill.stdout
    check = manage(
        "check_documents",
        "--verify-hashes",
        DATABASE_URL=url,
        DOCUMENTS_STORAGE="local",
        DOCUMENTS_ROOT=storage.location,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Contrôle terminé : aucun problème." in check.stdout
    # The document stored after the backup has no row in the restored database: a (recent) orphan, as it should.
    assert "Objets récents sans ligne (moins de 60 min, dépôt peut-être en cours, non comptés) : 1" in check.stdout
    assert "Empreintes SHA-256 recalculées : 5 fichier(s)." in check.stdout

    # A restored database that differs from the manifest is caught, row by row.
    with psycopg.connect(url) as restored:
        restored.execute("UPDATE documents_document SET sha256 = %s WHERE id = %s", ["0" * 64, documents[1].pk])
        restored.execute("DELETE FROM evaluation_report WHERE id = %s", [report.pk])
    output, error = run("verify_backup", path, "--database-url", url)
    assert error is not None and error.returncode == 1
    assert "Différences entre la base et le manifeste : 2" in output
    assert f"  document n° {documents[1].pk} : la base dit {documents[1].file.name}, {'0' * 64}" in output
    assert f"  rapport d'évaluation n° {report.pk} : dans le manifeste mais absent de la base" in output
    assert "2 différence(s) avec la base" in str(error)

    # A tampered copy is caught by SHA256SUMS and named by its row.
    (path / "files" / documents[2].file.name).write_bytes(b"%PDF-1.4 TAMPERED")
    output, error = run("verify_backup", path)
    assert error is not None and error.returncode == 1
    assert f"  files/{documents[2].file.name} : altéré (attendu {documents[2].sha256}" in output
    assert f"  document n° {documents[2].pk} : {documents[2].file.name} — attendu {documents[2].sha256}" in output
    assert documents[0].file.name not in output


@committed
def test_without_files_the_rows_are_checked_against_the_live_storage(storage, backups):
    documents, receipt, _ = store_every_kind()
    output, error = run("backup", backups, "--wet-run")
    assert error is None, output
    path = the_backup(backups)
    assert entries(path) == ["SHA256SUMS", "database.dump", "manifest.json"]
    output, error = run("verify_backup", path)
    assert error is None, output
    assert f"Fichiers des lignes vérifiés dans le dossier local {storage.location}." in output

    storage.delete(documents[0].file.name)
    Path(storage.path(receipt.file.name)).write_bytes(b"%PDF-1.7 changed")
    output, error = run("verify_backup", backups)  # the folder of the backups: its latest is checked

    assert error is not None and error.returncode == 1
    assert "2 problème(s) — 0 dans SHA256SUMS, 1 fichier(s) manquant(s), 1 empreinte(s) différente(s)" in str(error)
    assert f"  document n° {documents[0].pk} : {documents[0].file.name} absent du stockage" in output
    assert (
        f"  attestation de clôture n° {receipt.pk} : {receipt.file.name} — attendu {receipt.file_sha256} ;" in output
    )
    assert documents[1].file.name not in output
    # Read-only: nothing was repaired, moved or written.
    assert not storage.exists(documents[0].file.name)
    assert entries(path) == ["SHA256SUMS", "database.dump", "manifest.json"]


def test_a_backup_file_removed_added_or_changed_is_reported(storage, backups):
    run("backup", backups, "--wet-run")
    path = the_backup(backups)
    (path / "manifest.json").rename(path / "manifest.json.bak")
    (path / "notes.txt").write_text("ajouté à la main")

    output, error = run("verify_backup", path)

    assert error is not None and error.returncode == 1
    assert (
        str(error)
        == f"Vérification impossible : {path}/manifest.json est absent : ce n'est pas une sauvegarde complète."
    )

    (path / "manifest.json.bak").rename(path / "manifest.json")
    output, error = run("verify_backup", path)
    assert error is not None and error.returncode == 1
    assert "  notes.txt : présent mais absent de SHA256SUMS" in output

    (path / "notes.txt").unlink()
    (path / "database.dump").write_bytes(b"not a dump")
    output, error = run("verify_backup", path)
    assert error is not None
    assert "  database.dump : altéré (attendu " in output
    assert "database.dump n'est pas une archive pg_dump lisible" in output


def test_a_folder_without_a_backup_is_refused(backups):
    (backups / "20250314T031500Z.partial").mkdir()  # an interrupted backup is never taken for one

    with pytest.raises(CommandError, match=r"Vérification impossible : Aucune sauvegarde dans "):
        call_command("verify_backup", str(backups), stdout=io.StringIO())


def test_a_database_url_that_is_not_postgresql_is_refused(backups):
    with pytest.raises(CommandError, match="--database-url doit désigner une base PostgreSQL"):
        call_command("verify_backup", str(backups), "--database-url", "sqlite:///x.db", stdout=io.StringIO())


@committed
def test_on_s3_the_backup_copies_and_the_check_reads_through_the_storage_api(s3_server, settings, backups):
    storage_settings = s3_server.storage_settings()
    storage_settings["OPTIONS"]["location"] = f"backup-{uuid.uuid4()}"
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings, "documents": storage_settings}
    client, bucket, prefix = s3_server.client(), s3_server.bucket, storage_settings["OPTIONS"]["location"]
    documents = [DocumentFactory(content=f"%PDF-1.4 s3 {n}".encode()) for n in range(2)]
    receipt = ClosureReceiptFactory(content=b"%PDF-1.7 s3 attestation")

    with_files = backups / "with-files"
    with_files.mkdir()
    output, error = run("backup", with_files, "--wet-run", "--with-files")
    assert error is None, output
    assert f"copie des fichiers depuis le stockage S3, compartiment « {bucket} »" in output
    path = the_backup(with_files)
    assert (path / "files" / receipt.file.name).read_bytes() == b"%PDF-1.7 s3 attestation"

    live = backups / "live"
    live.mkdir()
    run("backup", live, "--wet-run")
    output, error = run("verify_backup", live)
    assert error is None, output
    assert f"Fichiers des lignes vérifiés dans le stockage S3, compartiment « {bucket} »" in output

    client.delete_object(Bucket=bucket, Key=f"{prefix}/{documents[0].file.name}")
    client.put_object(Bucket=bucket, Key=f"{prefix}/{documents[1].file.name}", Body=b"%PDF-1.4 TAMPERED")
    output, error = run("verify_backup", live)
    assert error is not None and error.returncode == 1
    assert f"  document n° {documents[0].pk} : {documents[0].file.name} absent du stockage" in output
    assert f"  document n° {documents[1].pk} : {documents[1].file.name} — attendu {documents[1].sha256}" in output
    # The copy made before is unaffected: the backup with files still proves every row.
    output, error = run("verify_backup", with_files)
    assert error is None, output
    assert Document.objects.count() == 2 and ClosureReceipt.objects.count() == 1
