"""Drill: a gunicorn worker killed (SIGKILL) in the middle of a report generation (issue 16, SECURITY.md R4, R7).

The report is generated in the request (« Envoyer le rapport » on the admin's consolidation page,
evaluation.reports.send_report): one transaction moves the self-evaluation to « Période contradictoire », opens
round 1, renders the PDF, stores it, then writes its `Report` row, the audit events and queues the e-mail to the
signataires once committed. The kill is made deterministic as in test_worker_killed.py: the test holds a SHARE lock
on evaluation_report, the request's transaction has moved the state, opened the round and stored the PDF when it
waits on that lock (seen in pg_stat_activity), and its worker is killed then.

Then: nothing of the killed request is in the database (state, round, report, audit event, e-mail task), the PDF
stored before the row is an orphan that `check_documents` names (within its grace period: not yet a problem), the
agent's retry sends the report once (version 1, one e-mail), a third send is refused, and `check_documents
--verify-hashes` finds the sent report's file intact.
"""

import time
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.urls import reverse

from audit.enums import EventType
from tests.drills.conftest import PASSWORD, running_portal
from tests.drills.kill import count_rows, post_killed_while_writing
from tests.drills.test_worker_killed import _check_documents
from tests.portal import Browser, form_fields


pytestmark = pytest.mark.slow_subprocess

TOTP_PERIOD = 30


def _log_in_agent(browser, port, email, secret):
    """Password, then the TOTP code (never within 2 s of the period's end: the portal checks it without
    tolerance)."""
    assert browser.log_in(port, email, PASSWORD).status == 302
    code_page = reverse("mfa_authenticate")
    if time.time() % TOTP_PERIOD > TOTP_PERIOD - 2:
        time.sleep(2.5)
    code = format_hotp_value(hotp_value(secret, int(time.time() // TOTP_PERIOD)))
    answer = browser.submit(port, browser.get(port, code_page), code_page, {"code": code})
    assert answer.status == 302, answer.text


@pytest.fixture
def portal(private_postgres, tmp_path):
    with running_portal(private_postgres.create_database("drill"), tmp_path, scenario="report") as portal:
        browser = Browser("192.0.2.91")
        _log_in_agent(browser, portal.port, portal.world["email"], portal.world["totp_secret"])
        portal.browser = browser
        yield portal


def test_a_worker_killed_during_a_report_sends_nothing_and_the_retry_sends_once(portal, private_postgres):
    world, browser, port = portal.world, portal.browser, portal.port
    page = browser.get(port, world["page"])
    assert page.status == 200, page.text
    fields = {**form_fields(page, world["send"]), "deadline": ""}
    state = "SELECT state FROM evaluation_selfevaluation WHERE id = %s"
    [(state_before,)] = private_postgres.query("drill", state, [world["self_evaluation_id"]])
    reports = "SELECT count(*) FROM evaluation_report"
    rounds = "SELECT count(*) FROM evaluation_contradictoryround"
    emails = "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE task_path = 'ecars.emails.send_email'"
    report_events = "SELECT count(*) FROM audit_auditevent WHERE event_type IN (%s, %s)"
    kinds = [EventType.REPORT_GENERATED, EventType.REPORT_SENT]
    assert count_rows(private_postgres, emails) == 0

    post_killed_while_writing(portal, private_postgres, "evaluation_report", world["send"], fields)

    assert private_postgres.query("drill", state, [world["self_evaluation_id"]]) == [(state_before,)]
    assert count_rows(private_postgres, reports) == 0
    assert count_rows(private_postgres, rounds) == 0
    assert count_rows(private_postgres, report_events, kinds) == 0
    assert count_rows(private_postgres, emails) == 0
    # The PDF was stored before its row: the kill leaves it without one, which check_documents lists (not yet
    # counted as a problem within its grace period, when the row may still be on its way).
    stored = Path(portal.env["DOCUMENTS_ROOT"]) / "reports"
    orphans = [path for path in stored.rglob("*") if path.is_file()]
    assert len(orphans) == 1
    assert orphans[0].name in _check_documents(portal)

    retry = browser.post(port, world["send"], fields)  # the same form, sent again

    assert retry.status == 302, retry.text
    [(sent,)] = private_postgres.query("drill", state, [world["self_evaluation_id"]])
    assert sent != state_before
    assert private_postgres.query("drill", "SELECT version, sent_at IS NOT NULL FROM evaluation_report") == [(1, True)]
    assert count_rows(private_postgres, rounds) == 1
    assert count_rows(private_postgres, report_events, kinds) == 2
    assert count_rows(private_postgres, emails) == 1
    browser.post(port, world["send"], fields)  # sent once more: refused, the report is already sent
    assert count_rows(private_postgres, reports) == 1
    assert count_rows(private_postgres, emails) == 1
    files = {path.name for path in stored.rglob("*") if path.is_file()}
    [(name,)] = private_postgres.query("drill", "SELECT file FROM evaluation_report")
    assert files == {orphans[0].name, Path(name).name}  # the killed one's orphan, and the sent one's file
    report = _check_documents(portal)
    assert orphans[0].name in report and Path(name).name not in report
