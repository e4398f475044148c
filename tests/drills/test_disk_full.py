"""Drill: the documents' disk full during an upload (issue 16, SECURITY.md R4).

The portal (gunicorn on a private PostgreSQL, production settings, DOCUMENTS_STORAGE=local) keeps its documents on a
real full filesystem: a 2 MiB tmpfs mounted for the drill (root only: elsewhere the drill is skipped, saying so).
A first small document fits; a 3 Mo one does not: the write fails with ENOSPC halfway, the upload is refused with a
clear French message, and nothing is left of it (no row, no partial file; `check_documents` clean). Once space is
freed (the tmpfs grown to 8 MiB, as an operator would extend a volume) the same upload goes through, once.
"""

import os
import shutil
import subprocess

import pytest
from django.urls import reverse

from tests.documents.corpus import sample
from tests.drills.conftest import PASSWORD, running_portal
from tests.portal import Browser


pytestmark = pytest.mark.slow_subprocess


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs; `mount` needs root (CAP_SYS_ADMIN): without it the drill is skipped, saying why."""
    folder = tmp_path / "documents-disk"
    folder.mkdir()
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small tmpfs (a disk that fills up) needs root")
    done = subprocess.run(  # noqa: S603
        [mount, "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", folder], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run([shutil.which("umount"), folder], check=False)  # noqa: S603


def _stored(folder) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_a_full_disk_refuses_the_upload_cleanly(private_postgres, small_disk, tmp_path):
    small, big = (
        sample("valid.pdf"),
        ("Ligne d'un rapport d'activité, assez longue pour remplir le disque.\n" * 50_000),
    )
    big = big.encode()
    assert len(big) > 3_000_000
    database = private_postgres.create_database("drill")
    with running_portal(database, tmp_path, DOCUMENTS_ROOT=str(small_disk)) as portal:
        port, world = portal.port, portal.world
        question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
        upload = reverse("evaluation:question_upload", args=[world["self_evaluation"], "1.a"])
        browser = Browser("192.0.2.80")
        assert browser.log_in(port, world["email"], PASSWORD).status == 302

        def send(name, content, content_type):
            browser.upload(port, question, upload, name, content, content_type)
            return browser.get(port, question).text

        assert "« petit.pdf » a été ajouté." in send("petit.pdf", small, "application/pdf")
        before = _stored(small_disk)
        assert len(before) == 1

        page = send("rapport.txt", big, "text/plain")

        assert (
            "« rapport.txt » est refusé : le stockage des documents est temporairement indisponible, "
            "le fichier n'a pas été enregistré (réessayez dans quelques minutes)." in page
        )
        assert _stored(small_disk) == before  # no partial file
        rows = private_postgres.query("drill", "SELECT original_name FROM documents_document ORDER BY id")
        assert rows == [("petit.pdf",)]
        assert "No space left on device" in portal.log("gunicorn")  # the operators see why

        grown = subprocess.run(  # noqa: S603
            [shutil.which("mount"), "-o", "remount,size=8m", small_disk], capture_output=True, text=True, check=False
        )
        assert grown.returncode == 0, grown.stderr
        assert "« rapport.txt » a été ajouté." in send("rapport.txt", big, "text/plain")
        checked = portal.manage("check_documents", "--verify-hashes", "--grace-minutes", "0")
        portal.assert_running()

    assert checked.returncode == 0, checked.stdout + checked.stderr
    rows = private_postgres.query("drill", "SELECT original_name, file FROM documents_document ORDER BY id")
    assert [name for name, _ in rows] == ["petit.pdf", "rapport.txt"]
