"""Drill: a gunicorn worker killed (SIGKILL) in the middle of a save, of a 19 Mo upload and of a closure (issue 16,
SECURITY.md R4, R7).

Each kill is made deterministic without any hook in the portal:
- during a save or a closure, the test holds a SHARE lock on the table the request writes last (the answer's history,
  the closure receipts) from its own connection to the drill's private PostgreSQL: the request's transaction has
  done its first writes and waits on that lock (seen in pg_stat_activity) when its worker is killed; the lock is then
  released;
- during an upload, the test sends the request's headers and half of its body, and kills the worker while it is
  still reading the rest.
Then: nothing of the killed request is in the database, gunicorn's master has started a new worker, the user's retry
(the same form sent again) works once and creates no duplicate, and `check_documents` passes.

The leftovers of a kill are then cleaned up by the commands meant for them, once old enough: the half of the body
already spooled in FILE_UPLOAD_TEMP_DIR (an `ecars-upload-….upload…` file, deleted on close, which a SIGKILL skips)
by `purge_upload_temp_files`, the closure receipt's PDF stored without its row by `purge_orphan_files`.
A kill during a report generation: test_report_killed.py.
"""

import os
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.drills.conftest import PASSWORD, running_portal
from tests.drills.kill import count_rows, kill_worker, post_killed_while_writing, send_raw
from tests.portal import Browser, form_fields


pytestmark = pytest.mark.slow_subprocess


def _age(path: Path, seconds: int = 2 * 3600):
    """Date `path` `seconds` ago, as a leftover found by the next cron run would be."""
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def portal(private_postgres, tmp_path):
    with running_portal(
        private_postgres.create_database("drill"), tmp_path, FILE_UPLOAD_TEMP_DIR=str(tmp_path)
    ) as portal:
        browser = Browser("192.0.2.90")
        assert browser.log_in(portal.port, portal.world["email"], PASSWORD).status == 302
        portal.browser = browser
        yield portal


def _check_documents(portal, *extra) -> str:
    checked = portal.manage("check_documents", "--verify-hashes", *extra)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return checked.stdout


def test_a_worker_killed_during_a_save_leaves_nothing_and_the_retry_saves_once(portal, private_postgres):
    world, browser, port = portal.world, portal.browser, portal.port
    question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
    form = form_fields(browser.get(port, question), "")
    fields = {"csrfmiddlewaretoken": form["csrfmiddlewaretoken"], "version": form["version"], "value": "17"}
    history = "SELECT count(*) FROM evaluation_indicatorvaluehistory WHERE indicator_value_id = %s"
    events = "SELECT count(*) FROM audit_auditevent"
    events_before = count_rows(private_postgres, events)

    post_killed_while_writing(portal, private_postgres, "evaluation_indicatorvaluehistory", question, fields)

    [(value, version)] = private_postgres.query(
        "drill", "SELECT value, version FROM evaluation_indicatorvalue WHERE id = %s", [world["value_id"]]
    )
    assert (value, str(version)) == ("0", form["version"])  # the UPDATE done before the kill was rolled back
    assert count_rows(private_postgres, history, [world["value_id"]]) == 0
    assert count_rows(private_postgres, events) == events_before

    retry = browser.post(port, question, fields)  # the same form, sent again

    assert retry.status == 302
    assert "Réponse enregistrée." in browser.get(port, question).text
    assert count_rows(private_postgres, history, [world["value_id"]]) == 1
    assert browser.post(port, question, fields).status == 409  # a third send: a conflict, not a second save
    assert count_rows(private_postgres, history, [world["value_id"]]) == 1


def test_a_worker_killed_during_an_upload_stores_nothing_and_the_retry_stores_once(portal, private_postgres, tmp_path):
    world, browser, port = portal.world, portal.browser, portal.port
    question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
    upload = reverse("evaluation:question_upload", args=[world["self_evaluation"], "1.a"])
    fields = form_fields(browser.get(port, question), upload)  # the CSRF token and the form's « jeton »
    content = b"Compte rendu de la commission du medicament, page suivante.\n" * 310_000  # 19 Mo
    assert 18_000_000 < len(content) < 20_000_000
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        + f'--{boundary}\r\nContent-Disposition: form-data; name="documents"; filename="compte-rendu.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )

    sock = send_raw(browser, port, upload, body[: len(body) // 2], boundary, len(body))
    time.sleep(0.5)  # the worker reads what was sent, and waits for the rest
    kill_worker(portal)
    with pytest.raises(OSError):
        sock.sendall(body[len(body) // 2 :])
        sock.recv(1)  # a reset, if sending the rest did not fail already
        raise ConnectionResetError("no answer")
    sock.close()

    documents_root = Path(portal.env["DOCUMENTS_ROOT"])
    assert count_rows(private_postgres, "SELECT count(*) FROM documents_document") == 0
    assert not [path for path in documents_root.rglob("*") if path.is_file()]
    # The half-received body stays in FILE_UPLOAD_TEMP_DIR; once older than an hour, the purge removes it, and only it.
    [spooled] = tmp_path.glob("ecars-upload-*")
    assert spooled.stat().st_size > 8_000_000
    others = {path: path.stat().st_mtime for path in tmp_path.rglob("*") if path.is_file() and path != spooled}
    _age(spooled)
    purged = portal.manage("purge_upload_temp_files", "--wet-run")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert f"Supprimé : {spooled}" in purged.stdout
    assert not spooled.exists()
    assert all(path.exists() for path in others)

    retry = browser.post(port, upload, fields, files={"documents": ("compte-rendu.txt", content, "text/plain")})

    assert retry.status == 302
    assert urlsplit(retry.headers["Location"]).path == question
    assert "« compte-rendu.txt » a été ajouté." in browser.get(port, question).text
    assert count_rows(private_postgres, "SELECT count(*) FROM documents_document") == 1
    again = browser.post(port, upload, fields, files={"documents": ("compte-rendu.txt", content, "text/plain")})
    assert again.status == 302
    assert count_rows(private_postgres, "SELECT count(*) FROM documents_document") == 1  # replayed: the same document
    stored = [path for path in documents_root.rglob("*") if path.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == content
    _check_documents(portal, "--grace-minutes", "0")


def test_a_worker_killed_during_a_closure_closes_nothing_and_the_retry_closes_once(portal, private_postgres):
    world, browser, port = portal.world, portal.browser, portal.port
    close = reverse("evaluation:close", args=[world["self_evaluation"]])
    fields = form_fields(browser.get(port, close), close)
    state = "SELECT state FROM evaluation_selfevaluation WHERE public_id = %s"
    [(state_before,)] = private_postgres.query("drill", state, [world["self_evaluation"]])

    post_killed_while_writing(portal, private_postgres, "evaluation_closurereceipt", close, fields)

    assert private_postgres.query("drill", state, [world["self_evaluation"]]) == [(state_before,)]
    assert count_rows(private_postgres, "SELECT count(*) FROM evaluation_closurereceipt") == 0
    # The receipt's PDF was stored before its row: the kill leaves it without one, which check_documents lists
    # (not yet counted as a problem within its grace period, when the row may still be on its way).
    receipts = Path(portal.env["DOCUMENTS_ROOT"]) / "receipts"
    orphans = [path for path in receipts.rglob("*") if path.is_file()]
    report = _check_documents(portal)
    assert len(orphans) == 1 and orphans[0].name in report

    retry = browser.post(port, close, fields)

    assert retry.status == 302
    [(closed,)] = private_postgres.query("drill", state, [world["self_evaluation"]])
    assert closed != state_before
    assert count_rows(private_postgres, "SELECT count(*) FROM evaluation_closurereceipt") == 1
    browser.post(port, close, fields)  # sent once more: the self-evaluation is already closed
    assert count_rows(private_postgres, "SELECT count(*) FROM evaluation_closurereceipt") == 1

    # Once older than the grace period, the killed closure's PDF is deleted; the retry's receipt stays.
    _age(orphans[0])
    purged = portal.manage("purge_orphan_files", "--wet-run")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert f"Supprimé : {orphans[0].relative_to(receipts.parent)}" in purged.stdout
    assert "fichiers sans ligne supprimés : 1" in purged.stdout
    assert not orphans[0].exists()
    assert len([path for path in receipts.rglob("*") if path.is_file()]) == 1  # the retry's, with its row
    assert "Objets sans ligne" not in _check_documents(portal, "--grace-minutes", "0")
