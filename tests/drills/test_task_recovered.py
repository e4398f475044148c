"""Drill: a tasks worker killed (SIGKILL) in the middle of an antivirus scan, its task put back in the queue by
`manage.py recover_tasks` (issue 16, SECURITY.md §R; README « Exploitation »).

As in test_worker_stopped.py, clamd is frozen (SIGSTOP) so that the worker is caught waiting for its verdict, the
scan's task « RUNNING ». The worker is killed: the task stays « RUNNING », and a new worker leaves it alone
(django-tasks-db reclaims nothing). `recover_tasks --wet-run` makes it « READY » again; the new worker runs it:
the same task row, run to completion once (its second attempt, `worker_ids` naming the dead worker then the new
one), the document « sain », one audit event for the recovery, and a second `recover_tasks` finds nothing.
"""

import json
import signal
import time

import pytest
from django.urls import reverse

from documents.enums import ScanStatus
from tests.documents.corpus import sample
from tests.drills.conftest import PASSWORD, running_portal
from tests.drills.kill import wait_for
from tests.drills.test_worker_stopped import (
    _document,
    _scan_tasks,
    clamd,  # noqa: F401 - a fixture of this module
    frozen_clamd,  # noqa: F401 - a fixture of this module
)
from tests.portal import Browser


pytestmark = pytest.mark.slow_subprocess

SCAN = "documents.antivirus.scan_document"


def _finished_scans(log: str) -> list[dict]:
    """The JSON lines of a worker's log saying a scan task ended (ecars.lib.logs.task_finished)."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("task") == SCAN and "status" in line]


def test_a_task_of_a_killed_worker_is_taken_back_once(private_postgres, frozen_clamd, tmp_path):  # noqa: F811
    socket_path, freeze = frozen_clamd
    database = private_postgres.create_database("drill")
    with running_portal(database, tmp_path, CLAMD_SOCKET=socket_path, CLAMD_TIMEOUT="30") as portal:
        port, world = portal.port, portal.world
        question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
        upload = reverse("evaluation:question_upload", args=[world["self_evaluation"], "1.a"])
        browser = Browser("192.0.2.101")
        assert browser.log_in(port, world["email"], PASSWORD).status == 302
        browser.upload(port, question, upload, "rapport.pdf", sample("valid.pdf"), "application/pdf")
        document, _ = _document(private_postgres, "rapport.pdf")

        def running():
            return [pk for status, pk in _scan_tasks(private_postgres) if status == "RUNNING"]

        freeze(True)
        worker = portal.start_worker()
        assert wait_for(running, 30, "the worker never started the scan") == [document]
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed_log = portal.log("db_worker")
        freeze(False)
        worker = portal.start_worker()
        time.sleep(2)  # a new worker leaves the dead one's task alone
        assert running() == [document]
        assert _document(private_postgres, "rapport.pdf")[1] == ScanStatus.EN_ATTENTE

        dry = portal.manage("recover_tasks", "--older-than", "0")
        assert dry.returncode == 0, dry.stderr
        assert "tâches à remettre en file (« RUNNING » depuis plus de 0 min) : 1" in dry.stdout
        time.sleep(1)
        assert running() == [document]  # the dry run put nothing back
        recovered = portal.manage("recover_tasks", "--older-than", "0", "--wet-run")
        assert recovered.returncode == 0, recovered.stderr
        assert "tâches remises en file (« RUNNING » depuis plus de 0 min) : 1" in recovered.stdout
        wait_for(lambda: _document(private_postgres, "rapport.pdf")[1] == ScanStatus.SAIN, 30, "never scanned")
        time.sleep(1)  # anything else the worker would do, it would have done by now
        again = portal.manage("recover_tasks", "--older-than", "0", "--wet-run")
        assert "tâches remises en file (« RUNNING » depuis plus de 0 min) : 0" in again.stdout
        portal.assert_running()
        new_log = portal.log("db_worker")

    # One task row for the document, run to completion once, on its second attempt.
    assert _scan_tasks(private_postgres) == [("SUCCESSFUL", document)]
    [(worker_ids,)] = private_postgres.query(
        "drill", "SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE task_path = %s", [SCAN]
    )
    assert len(worker_ids) == 2 and worker_ids[0] != worker_ids[1]
    assert _finished_scans(killed_log) == []
    assert [(line["status"], line["attempt"]) for line in _finished_scans(new_log)] == [("SUCCESSFUL", 2)]
    [(events,)] = private_postgres.query(
        "drill",
        "SELECT count(*) FROM audit_auditevent WHERE event_type = 'ops.command' AND data->>'operation' = %s",
        ["recover_tasks"],
    )
    assert events == 1
