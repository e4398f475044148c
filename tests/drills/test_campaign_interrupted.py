"""Drill: a bulk campaign opening (`manage.py open_campaign`) stopped in the middle (issue 16, SECURITY.md §R).

Opening a campaign is a command (run by hand or by cron), not a task of the worker: batches of 250 contracts
(evaluation.campaigns.BATCH), each one transaction. The world: 300 signed contracts × 3 questions
(tests/drills/world.py « campaign »). To stop the run in its second batch, deterministically, the test holds a
SHARE lock on the values' table and queues for the campaign's row (each batch locks it) while the first batch holds
it: the first batch commits, the test gets the row, locks the values' table again and lets the row go; the second
batch then writes its self-evaluations and waits to write their values (seen in pg_stat_activity) when the command
gets the signal — SIGTERM (a deploy, a `systemctl stop`), SIGKILL (a machine lost) or SIGINT (Ctrl-C) — and the
locks are then released.

Then: the first batch is there, whole (250 self-evaluations, each with its 3 values and its transition, one audit
event), nothing of the second; run again, the command creates the 50 missing ones only; a third run does nothing.
Each contract has exactly one self-evaluation, each self-evaluation its 3 values once.
"""

import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.conf import settings

from audit.enums import EventType
from tests.drills.conftest import running_portal
from tests.drills.kill import count_rows, wait_for


pytestmark = pytest.mark.slow_subprocess

# The start of evaluation.campaigns._insert_values's statement (pg_stat_activity keeps its first 1,024 bytes only).
VALUES_INSERT = "WITH question (indicator_id, region_id"


def _shape(private_postgres) -> dict:
    """What the opening wrote: self-evaluations, values, transitions, audit events, and the anomalies."""
    return {
        "self_evaluations": count_rows(private_postgres, "SELECT count(*) FROM evaluation_selfevaluation"),
        "values": count_rows(private_postgres, "SELECT count(*) FROM evaluation_indicatorvalue"),
        "transitions": count_rows(private_postgres, "SELECT count(*) FROM evaluation_transition"),
        "events": count_rows(
            private_postgres,
            "SELECT count(*) FROM audit_auditevent WHERE event_type = %s",
            [EventType.CAMPAIGN_OPENED.value],
        ),
        # Contracts with more than one self-evaluation; self-evaluations without exactly 3 values; values twice.
        "contracts_twice": count_rows(
            private_postgres,
            "SELECT count(*) FROM (SELECT contract_id FROM evaluation_selfevaluation GROUP BY contract_id "
            "HAVING count(*) > 1) twice",
        ),
        "incomplete": count_rows(
            private_postgres,
            "SELECT count(*) FROM evaluation_selfevaluation se WHERE (SELECT count(*) FROM evaluation_indicatorvalue "
            "v WHERE v.self_evaluation_id = se.id) <> 3",
        ),
        "values_twice": count_rows(
            private_postgres,
            "SELECT count(*) FROM (SELECT 1 FROM evaluation_indicatorvalue GROUP BY self_evaluation_id, indicator_id "
            "HAVING count(*) > 1) twice",
        ),
    }


def _expected(self_evaluations: int, events: int) -> dict:
    return {
        "self_evaluations": self_evaluations,
        "values": 3 * self_evaluations,
        "transitions": self_evaluations,
        "events": events,
        "contracts_twice": 0,
        "incomplete": 0,
        "values_twice": 0,
    }


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT], ids=lambda how: how.name)
def test_an_opening_stopped_in_its_second_batch_resumes_where_it_stopped(how, private_postgres, tmp_path):
    with running_portal(private_postgres.create_database("drill"), tmp_path, scenario="campaign") as portal:
        world = portal.world
        command = ["open_campaign", world["campaign"], "--wet-run", "--date", world["date"]]

        [(campaign_id,)] = private_postgres.query(
            "drill", "SELECT id FROM evaluation_campaign WHERE code = %s", [world["campaign"]]
        )
        values_lock = psycopg.connect(private_postgres.dsn("drill"))
        campaign_lock = psycopg.connect(private_postgres.dsn("drill"))
        watcher = psycopg.connect(private_postgres.dsn("drill"), autocommit=True)

        def waiting(on: str) -> list:
            assert opening.poll() is None, (tmp_path / "open_campaign.log").read_text()
            return watcher.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = 'drill' AND wait_event_type = 'Lock' "
                "AND query ILIKE %s",
                [f"%{on}%"],
            ).fetchall()

        try:
            # 1. The first batch waits to write its values, the campaign's row locked by its transaction.
            values_lock.execute("LOCK TABLE evaluation_indicatorvalue IN SHARE MODE")
            with (tmp_path / "open_campaign.log").open("wb") as output:
                opening = subprocess.Popen(  # noqa: S603
                    [sys.executable, "manage.py", *command],
                    cwd=settings.BASE_DIR,
                    env=portal.env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            wait_for(lambda: waiting(VALUES_INSERT), 30, "the first batch never waited")
            # 2. The test queues first for the campaign's row: the second batch will wait behind it.
            queued = threading.Thread(
                target=campaign_lock.execute,
                args=["SELECT id FROM evaluation_campaign WHERE id = %s FOR UPDATE", [campaign_id]],
            )
            queued.start()
            wait_for(lambda: waiting("FROM evaluation_campaign WHERE id"), 30, "the test never queued")
            values_lock.rollback()  # the first batch writes its values and commits
            queued.join(timeout=30)
            assert not queued.is_alive()
            # 3. The values' table locked again, the campaign's row let go: the second batch writes its
            # self-evaluations, then waits to write their values, when the command gets the signal.
            values_lock.execute("LOCK TABLE evaluation_indicatorvalue IN SHARE MODE")
            campaign_lock.rollback()
            wait_for(lambda: waiting(VALUES_INSERT), 30, "the second batch never waited")
            opening.send_signal(how)
            assert opening.wait(timeout=30) != 0
        finally:
            values_lock.rollback()
            values_lock.close()
            campaign_lock.close()
        # The killed run's session ends once PostgreSQL sees its client gone: wait until nothing of it waits.
        wait_for(
            lambda: (
                not watcher.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = 'drill' AND state = 'active' "
                    "AND pid <> pg_backend_pid()"
                ).fetchall()
            ),
            30,
            "the stopped run's session is still active",
        )
        watcher.close()
        time.sleep(0.2)

        assert _shape(private_postgres) == _expected(250, 1)  # the first batch, whole; nothing of the second

        resumed = portal.manage(*command)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "auto-évaluations créées, à l'état « Auto-Evaluation » : 50" in resumed.stdout
        assert _shape(private_postgres) == _expected(300, 2)

        again = portal.manage(*command)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Rien à faire" in again.stdout
        assert _shape(private_postgres) == _expected(300, 2)
