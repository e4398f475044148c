"""`manage.py purge_upload_temp_files`: the spooled uploads a killed worker left in FILE_UPLOAD_TEMP_DIR."""

import io
import os
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from documents.cleanup import is_spooled_upload
from documents.management.commands import purge_upload_temp_files
from documents.upload_handlers import SizeCappedTemporaryFileUploadHandler


TWO_HOURS = 2 * 3600


def run(*args) -> str:
    out = io.StringIO()
    call_command("purge_upload_temp_files", *args, stdout=out, stderr=io.StringIO(), no_color=True)
    return out.getvalue()


@pytest.fixture
def temp_dir(settings, tmp_path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def write(path: Path, size: int, *, age: int = 0) -> Path:
    path.write_bytes(b"x" * size)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def spool(name="dossier.pdf"):
    """What the upload handler does when a file's first bytes arrive."""
    handler = SizeCappedTemporaryFileUploadHandler(request=None)
    handler.new_file("file", name, "application/pdf", None)
    return handler


def test_the_help_is_the_module_docstring():
    assert purge_upload_temp_files.Command.help == purge_upload_temp_files.__doc__


def test_the_upload_handler_spools_to_a_recognisable_name_in_the_temp_dir(temp_dir):
    handler = spool("rapport annuel.pdf")
    path = Path(handler.file.temporary_file_path())

    assert path.parent == temp_dir
    assert path.name.startswith("ecars-upload-") and path.name.endswith(".upload.pdf")
    assert is_spooled_upload(path.name)
    handler.upload_interrupted()
    assert not path.exists()


def test_a_stale_spooled_upload_is_removed_a_fresh_one_and_other_files_are_kept(temp_dir):
    stale = write(temp_dir / "ecars-upload-k2j4h1.upload.pdf", 8_400_000, age=TWO_HOURS)
    in_progress = Path(spool().file.temporary_file_path())
    write(in_progress, 1000)
    others = [
        write(temp_dir / "tmpab12cd.upload.pdf", 10, age=TWO_HOURS),  # Django's default name: not ours
        write(temp_dir / "ecars-upload-notes.txt", 10, age=TWO_HOURS),
        write(temp_dir / "backup.sql", 10, age=TWO_HOURS),
    ]
    folder = temp_dir / "ecars-upload-folder.upload"
    folder.mkdir()
    os.utime(folder, (time.time() - TWO_HOURS,) * 2)
    target = write(temp_dir.parent / "elsewhere.pdf", 10, age=TWO_HOURS)
    link = temp_dir / "ecars-upload-link.upload.pdf"
    link.symlink_to(target)
    events = AuditEvent.objects.count()

    output = run("--wet-run")

    assert not stale.exists()
    assert in_progress.exists()
    assert all(path.exists() for path in [*others, folder, link, target])
    assert f"  Supprimé : {stale} (8400000 octets)" in output
    assert "fichiers temporaires abandonnés supprimés : 1" in output
    assert "dépôts en cours (moins de 60 min), conservés : 1" in output
    assert "octets libérés : 8400000" in output
    assert AuditEvent.objects.count() == events  # no row is involved


def test_the_dry_run_removes_nothing(temp_dir):
    stale = write(temp_dir / "ecars-upload-abc.upload", 10, age=TWO_HOURS)

    output = run()

    assert stale.exists()
    assert f"  À supprimer : {stale} (10 octets)" in output
    assert "fichiers temporaires abandonnés à supprimer : 1" in output


def test_a_threshold_shorter_than_an_hour_is_refused(temp_dir):
    stale = write(temp_dir / "ecars-upload-abc.upload", 10, age=45 * 60)
    with pytest.raises(CommandError, match="--older-than-minutes doit valoir au moins 60"):
        run("--wet-run", "--older-than-minutes=30")
    assert stale.exists()


def test_a_missing_folder_is_nothing_to_remove(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "absent")
    assert "fichiers temporaires abandonnés supprimés : 0" in run("--wet-run")
