"""Drill: the SMTP server down while e-mails are queued, then back (issue 16, SECURITY.md R11).

The portal (gunicorn on a private PostgreSQL, production settings, EMAIL_URL at a loopback port where nothing
listens yet) queues e-mails through the real pages: a renewal code (« Renouveler le mot de passe ») and the closure
receipt (« Clore la saisie », PDF attached). The tasks worker (`manage.py db_worker --batch`: every task ready, then
exit) cannot deliver them: they stay queued, none fails. A first code expires while SMTP is down (the drill's codes
last DRILL_CODE_TIMEOUT = 6 s instead of 10 minutes); a second is asked for. Then an SMTP server (aiosmtpd) starts on
that port and the worker runs again: the receipt and the live code are delivered once each, the expired code never,
and the code received works; a further run of the worker sends nothing more.
"""

import email
import re
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse

from audit.enums import EventType
from tests.conftest import _RecordingHandler, free_port
from tests.drills.conftest import PASSWORD, running_portal
from tests.portal import Browser


pytestmark = pytest.mark.slow_subprocess

CODE_TIMEOUT = 6


def _messages(handler) -> list:
    return [email.message_from_bytes(envelope.content, policy=policy.default) for envelope in handler.envelopes]


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _tasks(private_postgres) -> dict:
    rows = private_postgres.query(
        "drill", "SELECT status, count(*) FROM django_tasks_database_dbtaskresult GROUP BY status"
    )
    return dict(rows)


def test_an_smtp_outage_delays_emails_without_losing_or_doubling_them(private_postgres, tmp_path):
    smtp_port = free_port()
    database = private_postgres.create_database("drill")
    with running_portal(
        database,
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.drills.settings",
        DRILL_CODE_TIMEOUT=str(CODE_TIMEOUT),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        EMAIL_TIMEOUT="3",
        EMAIL_RETRY_DELAY="1",
    ) as portal:
        port, world = portal.port, portal.world

        def worker():
            ran = portal.manage("db_worker", "--batch", "--no-startup-delay")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            return ran.stdout + ran.stderr

        def ask_for_a_code(browser):
            reset = reverse("account_reset_password")
            response = browser.submit(port, browser.get(port, reset), reset, {"email": world["email"]})
            assert response.status == 302, response.text
            return time.monotonic()

        signataire = Browser("192.0.2.70")
        assert signataire.log_in(port, world["email"], PASSWORD).status == 302
        close = reverse("evaluation:close", args=[world["self_evaluation"]])
        assert signataire.submit(port, signataire.get(port, close), close).status == 302
        expired_browser = Browser("192.0.2.71")
        first_asked = ask_for_a_code(expired_browser)

        log = worker()  # SMTP down: nothing delivered, everything still queued

        assert "Serveur SMTP indisponible" in log
        tasks = _tasks(private_postgres)
        assert tasks.get("FAILED", 0) == 0, tasks
        assert tasks.get("READY", 0) >= 2, tasks  # the receipt and the code, queued again

        time.sleep(max(0, first_asked + CODE_TIMEOUT + 0.5 - time.monotonic()))  # the first code has expired
        live_browser = Browser("192.0.2.72")
        ask_for_a_code(live_browser)
        handler = _RecordingHandler()
        smtp = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        try:
            time.sleep(1.1)  # EMAIL_RETRY_DELAY: the tasks queued again are due
            worker()
            delivered = _messages(handler)
            worker()  # nothing left to send: nothing sent twice
            assert len(handler.envelopes) == len(delivered)
        finally:
            smtp.stop()
        tasks = _tasks(private_postgres)
        portal.assert_running()

        codes = [m for m in delivered if re.search(r"\b\d{6}\b", _text(m)) and "code" in m["Subject"].lower()]
        receipts = [m for m in delivered if m not in codes]
        assert len(codes) == 1, [m["Subject"] for m in delivered]  # the live code; the expired one never
        assert [m["To"] for m in codes] == [world["email"]]
        assert receipts, [m["Subject"] for m in delivered]
        recipients = [m["To"] for m in receipts]
        assert len(recipients) == len(set(recipients))  # each recipient's receipt once
        assert all(
            any(part.get_filename() and part.get_filename().endswith(".pdf") for part in m.iter_attachments())
            for m in receipts
        )
        # The code received is the live one: it opens the renewal in the browser that asked for it.
        [code] = re.findall(r"\b\d{6}\b", _text(codes[0]))
        confirm = reverse("account_confirm_password_reset_code")
        response = live_browser.submit(port, live_browser.get(port, confirm), confirm, {"code": code})
        assert response.status == 302, response.text

    assert tasks.get("FAILED", 0) == 0 and tasks.get("READY", 0) == 0, tasks
    [(sent_events,)] = private_postgres.query(
        "drill", "SELECT count(*) FROM audit_auditevent WHERE event_type = %s", [EventType.RESET_CODE_SENT]
    )
    assert sent_events == 1
