"""Drill: the tasks worker (`manage.py db_worker`) stopped in the middle of an antivirus scan (issue 16, SECURITY.md
§2, README « Passage à l'échelle »).

The portal (gunicorn on a private PostgreSQL, production settings) scans uploads with the suite's clamd (EICAR-only
signatures, tests/documents/conftest.py). To catch the worker in the middle of a scan, clamd is frozen (SIGSTOP):
the worker has sent the file and waits for the verdict, its task « RUNNING » in the database. Then:
- stopped as an operator or a deploy stops it (SIGTERM), the worker finishes the scan once clamd answers again
  (SIGCONT), and exits: the document is « sain », its task done once;
- killed (SIGKILL, a machine lost), the task stays « RUNNING » and no worker takes it again (django-tasks-db does
  not reclaim a dead worker's task): the document stays « en attente », not downloadable as unscanned… until
  `rescan_documents --wet-run` (the daily cron job) queues its scan again, which a new worker runs once.
"""

import os
import signal
import time
from pathlib import Path

import pytest
from django.urls import reverse

from documents.enums import ScanStatus
from tests.documents.conftest import clamd  # noqa: F401 - the suite's clamd, as a fixture of this module
from tests.documents.corpus import sample
from tests.drills.conftest import PASSWORD, running_portal
from tests.drills.kill import wait_for
from tests.portal import Browser


pytestmark = pytest.mark.slow_subprocess


def _clamd_pid(socket_path: str) -> int:
    """The suite's clamd: a child of this process, started with the configuration beside its socket."""
    config = str(Path(socket_path).parent / "clamd.conf")
    me = os.getpid()
    for task in Path(f"/proc/{me}/task").iterdir():
        for child in (task / "children").read_text().split():
            if config in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return int(child)
    raise AssertionError("clamd not found among this process's children")


def _scan_tasks(private_postgres) -> list[tuple[str, int]]:
    """(status, document id) of every scan task, oldest first."""
    return [
        (status, int(document_id))
        for status, document_id in private_postgres.query(
            "drill",
            "SELECT status, args_kwargs->'kwargs'->>'document_id' FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'documents.antivirus.scan_document' ORDER BY enqueued_at",
        )
    ]


def _document(private_postgres, name) -> tuple[int, str]:
    [(pk, status)] = private_postgres.query(
        "drill", "SELECT id, scan_status FROM documents_document WHERE original_name = %s", [name]
    )
    return pk, status


@pytest.fixture
def frozen_clamd(clamd):  # noqa: F811
    """The suite's clamd socket, and a function that freezes (True) or thaws (False) clamd; thawed at the end."""
    pid = _clamd_pid(clamd)

    def freeze(frozen: bool):
        os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    try:
        yield clamd, freeze
    finally:
        freeze(False)


def test_a_worker_stopped_or_killed_during_a_scan_never_scans_twice(private_postgres, frozen_clamd, tmp_path):
    socket_path, freeze = frozen_clamd
    database = private_postgres.create_database("drill")
    with running_portal(database, tmp_path, CLAMD_SOCKET=socket_path, CLAMD_TIMEOUT="30") as portal:
        port, world = portal.port, portal.world
        question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
        upload = reverse("evaluation:question_upload", args=[world["self_evaluation"], "1.a"])
        browser = Browser("192.0.2.100")
        assert browser.log_in(port, world["email"], PASSWORD).status == 302

        def send(name):
            browser.upload(port, question, upload, name, sample("valid.pdf"), "application/pdf")
            return _document(private_postgres, name)[0]

        def running():
            return [document for status, document in _scan_tasks(private_postgres) if status == "RUNNING"]

        # 1. SIGTERM in the middle of a scan: the worker finishes it, then exits.
        first = send("premier.pdf")
        freeze(True)
        worker = portal.start_worker()
        assert wait_for(running, 30, "the worker never started the scan") == [first]
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert worker.poll() is None  # still waiting for clamd's verdict
        freeze(False)
        assert worker.wait(timeout=30) == 0
        assert _document(private_postgres, "premier.pdf")[1] == ScanStatus.SAIN
        assert _scan_tasks(private_postgres) == [("SUCCESSFUL", first)]

        # 2. SIGKILL in the middle of a scan: the task is lost until rescan_documents queues it again.
        second = send("second.pdf")
        freeze(True)
        worker = portal.start_worker()
        assert wait_for(running, 30, "the worker never started the scan") == [second]
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        freeze(False)
        worker = portal.start_worker()
        time.sleep(2)  # a new worker leaves the dead one's task alone
        assert running() == [second]
        assert _document(private_postgres, "second.pdf")[1] == ScanStatus.EN_ATTENTE
        queued = portal.manage("rescan_documents", "--wet-run")
        assert queued.returncode == 0, queued.stderr
        wait_for(lambda: _document(private_postgres, "second.pdf")[1] == ScanStatus.SAIN, 30, "the rescan never ran")
        time.sleep(1)  # anything else the worker would do, it would have done by now
        portal.assert_running()

    # Each document scanned once to completion; the killed worker's task stays RUNNING (nobody reclaims it).
    assert _scan_tasks(private_postgres) == [("SUCCESSFUL", first), ("RUNNING", second), ("SUCCESSFUL", second)]
    assert _document(private_postgres, "premier.pdf")[1] == ScanStatus.SAIN
