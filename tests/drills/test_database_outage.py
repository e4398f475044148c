"""Drill: PostgreSQL stopped, then restarted, while an establishment saves its answers (issue 16, SECURITY.md R6).

A signataire saves the answer of a question again and again through gunicorn (the real pages: GET the form, POST it
with its CSRF token and version) while the test stops the portal's PostgreSQL (a fast shutdown, the portal's open
connection cut) for DRILL_DATABASE_CUT seconds (5 in the suite; the issue's 20 with DRILL_DATABASE_CUT=20), then
starts it again on the same data. During the cut every page answers 503 « Service momentanément indisponible » in
French with Retry-After, never a traceback or a 500; after it the pages work again with the same gunicorn (its worker
never restarted); every save that was acknowledged (the redirect after the POST) is in the answer's history exactly
once, and no answer was saved twice.
"""

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.drills.conftest import PASSWORD, running_portal
from tests.portal import Browser, Response, form_fields


pytestmark = pytest.mark.slow_subprocess

CUT_SECONDS = float(os.environ.get("DRILL_DATABASE_CUT", "5"))
UNAVAILABLE = "Service momentanément indisponible"
SAVED = "Réponse enregistrée."


@dataclass
class Attempt:
    number: int  # the answer this POST sent (never sent twice)
    began: float
    ended: float
    get_status: int | None = None
    post_status: int | None = None
    acknowledged: bool = False
    page: Response | None = None  # the first answer that was not 200/302
    error: str = ""


class Establishment(threading.Thread):
    """Saves the question's answer 1, 2, 3… as fast as the portal answers, until told to stop."""

    def __init__(self, port: int, question: str):
        super().__init__(daemon=True)
        self.port, self.question = port, question
        self.browser = Browser("192.0.2.50", timeout=30)
        self.attempts: list[Attempt] = []
        self.finish = threading.Event()

    def run(self):
        number = 0
        while not self.finish.is_set():
            number += 1
            attempt = Attempt(number=number, began=time.monotonic(), ended=0)
            try:
                self._save(attempt)
            except (OSError, AssertionError, KeyError) as error:  # no answer, or not the page expected
                attempt.error = repr(error)
            attempt.ended = time.monotonic()
            self.attempts.append(attempt)
            if not attempt.acknowledged:
                time.sleep(0.1)  # as a user would retry, not a tight loop

    def _save(self, attempt: Attempt):
        page = self.browser.get(self.port, self.question)
        attempt.get_status = page.status
        if page.status != 200:
            attempt.page = page
            return
        form = form_fields(page, "")  # the answer form posts to its own page
        fields = {"csrfmiddlewaretoken": form["csrfmiddlewaretoken"], "version": form["version"]}
        answer = self.browser.post(self.port, self.question, {**fields, "value": str(attempt.number)})
        attempt.post_status = answer.status
        if answer.status == 302 and urlsplit(answer.headers["Location"]).path == self.question:
            attempt.acknowledged = True
        else:
            attempt.page = answer


def _wait(condition, timeout: float, what: str, establishment: Establishment):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"toujours pas après {timeout} s : {what}\n{_story(establishment)}"
        time.sleep(0.05)


def _story(establishment: Establishment, last: int = 5) -> str:
    """The last attempts, for a failure's message."""
    return "\n".join(
        f"{a.number}: GET {a.get_status} POST {a.post_status} {a.error} "
        + (a.page.text[:1500] if a.page and a.page.status != 503 else "")
        for a in establishment.attempts[-last:]
    )


def test_a_database_outage_answers_503_and_loses_no_acknowledged_save(private_postgres, tmp_path):
    database = private_postgres.create_database("drill")
    with running_portal(database, tmp_path) as portal:
        world = portal.world
        question = reverse("evaluation:question", args=[world["self_evaluation"], "1.a"])
        establishment = Establishment(portal.port, question)
        assert establishment.browser.log_in(portal.port, world["email"], PASSWORD).status == 302
        establishment.start()
        try:
            _wait(
                lambda: sum(a.acknowledged for a in establishment.attempts) >= 5,
                30,
                "5 saves before the cut",
                establishment,
            )

            private_postgres.stop()
            cut_began = time.monotonic()
            time.sleep(CUT_SECONDS)
            cut_ended = time.monotonic()
            restarted_in = private_postgres.start()
            restarted = time.monotonic()

            _wait(
                lambda: sum(a.acknowledged and a.began > restarted for a in establishment.attempts) >= 5,
                30,
                "5 saves after the restart",
                establishment,
            )
        finally:
            establishment.finish.set()
            establishment.join(timeout=60)
        portal.assert_running()
        attempts = establishment.attempts
        gunicorn_log = portal.log("gunicorn")

    # Nothing but pages, redirects and 503: no 500, no broken connection, no traceback shown.
    assert not [a for a in attempts if a.error], [a.error for a in attempts if a.error]
    statuses = {a.get_status for a in attempts} | {a.post_status for a in attempts if a.post_status}
    assert statuses <= {200, 302, 503}, statuses
    during = [a for a in attempts if a.began > cut_began and a.ended < cut_ended]
    assert len(during) >= 3, "the establishment kept trying during the cut"
    assert all(not a.acknowledged for a in during)
    for attempt in (a for a in attempts if a.page is not None):
        assert attempt.page.status == 503
        assert UNAVAILABLE in attempt.page.text
        assert "Traceback" not in attempt.page.text
        assert attempt.page.headers["Retry-After"] == "30"
        assert "no-store" in attempt.page.headers["Cache-Control"]
    # The GETs and POSTs refused are those of the cut (and of its first and last instants).
    assert all(a.began < cut_ended + restarted_in + 2 and a.ended > cut_began - 2 for a in attempts if a.page)
    # Recovery without restarting the portal: gunicorn booted its worker once, and it is still the one answering.
    assert gunicorn_log.count("Booting worker") == 1, gunicorn_log

    # Every acknowledged save is in the history exactly once; no answer was saved twice.
    rows = private_postgres.query(
        "drill",
        "SELECT changes->'value'->>1 FROM evaluation_indicatorvaluehistory WHERE indicator_value_id = %s",
        [world["value_id"]],
    )
    saved = [value for (value,) in rows]
    assert len(saved) == len(set(saved)), "an answer saved twice"
    acknowledged = [str(a.number) for a in attempts if a.acknowledged]
    assert len(acknowledged) >= 10
    assert not [number for number in acknowledged if saved.count(number) != 1]
    [(current, version)] = private_postgres.query(
        "drill", "SELECT value, version FROM evaluation_indicatorvalue WHERE id = %s", [world["value_id"]]
    )
    assert current == acknowledged[-1]
    assert version == len(saved) + 1
