"""Locust scenarios of deadline day (bench/deadline_day/run.py runs them; ACCOUNTS names the world's JSON).

- `Establishment`: logs in once, then loops home → EJ → contract → tree → question → save → question → tree,
  with a 1 Mo PDF added to the question one loop in ten; a pause of PAUSE_MIN to PAUSE_MAX seconds after each
  page, as a person reads it (0 and 0: the stress run). Each virtual user is one establishment, from its own client
  address (X-Forwarded-For, as the reverse proxy would send it: the portal runs with TRUSTED_PROXY_COUNT=1).
- `StormEstablishment`: logs in, then stays idle (the login storm).
- `Floor`: the minimal view of bench/urls.py behind the same gunicorn, without pauses.
- `Agent`: an agent of the ARS, the Assurance Maladie or the OMEDIT (the world's `agents`), AGENTS of them at most
  (`fixed_count`, beside `Establishment` in the evaluators' run). Logs in with the password, then the TOTP code
  computed from the authenticator's secret the world gives (a code is accepted once: an account waits for the next
  period rather than send one twice), then loops: « Évaluations » (the list) → « Évaluer » of one of its
  self-evaluations → one of the questions its body decides → « Enregistrer la décision » (the page's POST, with its
  CSRF token and version) → « Évaluer » again, with the same pauses. Its requests are named « agent: … ».

Every request is also counted in its group (establishments' pages and saves, uploads, agents, floor). With HOLD
set (the journeys), the run measures the journey itself, not the logins that precede it (the login storm's to
measure): once every user has logged in (`on_start` done, TOTP included), Locust's figures and the groups' are reset
and the run lasts HOLD seconds more, then stops (run.py's --run-time is only a cap). The groups' figures (Locust's own
percentiles), the seconds measured and the count of every acknowledged save and decision since the start (never
reset: run.py checks each one in the database) are written to the JSON file GROUPS when Locust stops.
"""

import collections
import itertools
import json
import os
import random
import time
import uuid

import gevent
from locust import HttpUser, between, constant, events, task
from locust.stats import RequestStats

from bench.deadline_day import pages


with open(os.environ["ACCOUNTS"]) as _file:
    WORLD = json.load(_file)
_next_account = itertools.count()
_next_agent = itertools.count()
PAUSE = (float(os.environ.get("PAUSE_MIN", 2)), float(os.environ.get("PAUSE_MAX", 10)))
# A PDF of about 1 Mo: the header, a comment of padding, the end mark.
PDF = b"%PDF-1.4\n%" + b"e-CARS charge " * 74_898 + b"\n%%EOF\n"


def _group(name: str) -> str:
    if name.startswith("agent: "):
        return "agents"
    if name.startswith("upload"):
        return "uploads"  # DESIGN.md §7: the pages' p95 excepts uploads
    return "floor" if name.startswith("floor") else "establishments"


_GROUPS = RequestStats()
# The writes each user was told were recorded (a save's or a decision's 302), from the very first one.
ACKNOWLEDGED_WRITES = ("save", "agent: decide")
_ACKNOWLEDGED = collections.Counter()


@events.request.add_listener
def _count_in_group(request_type, name, response_time, response_length, exception=None, **kwargs):
    _GROUPS.log_request("", _group(name), response_time, response_length or 0)
    if exception:
        _GROUPS.log_error("", _group(name), exception)
    elif name in ACKNOWLEDGED_WRITES:
        _ACKNOWLEDGED[name] += 1


_ENVIRONMENT = []
HOLD = float(os.environ.get("HOLD", 0))  # seconds measured once every user has logged in; 0: the whole run
_MEASURE = {"started": 0, "since": None}


@events.init.add_listener
def _keep_environment(environment, **kwargs):
    _ENVIRONMENT.append(environment)


def _user_started():
    """Called at the end of each user's `on_start`: when the last one has logged in, the measure starts."""
    _MEASURE["started"] += 1
    if not HOLD or _MEASURE["since"] is not None:
        return
    environment = _ENVIRONMENT[0]
    if _MEASURE["started"] < environment.runner.target_user_count:
        return
    environment.runner.stats.reset_all()
    _GROUPS.reset_all()
    _MEASURE["since"] = time.monotonic()
    gevent.spawn_later(HOLD, environment.runner.quit)


@events.quitting.add_listener
def _write_groups(environment, **kwargs):
    path = os.environ.get("GROUPS")
    if not path:
        return
    figures = {
        name: {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "rps": entry.total_rps,
            **{f"p{p}": entry.get_response_time_percentile(p / 100) for p in (50, 95, 99)},
        }
        for (name, _), entry in _GROUPS.entries.items()
    }
    measured = None if _MEASURE["since"] is None else time.monotonic() - _MEASURE["since"]
    with open(path, "w") as file:
        json.dump({"groups": figures, "acknowledged": dict(_ACKNOWLEDGED), "measured": measured}, file)


def log_in(client, email: str, *, name: str, then: str | None = None):
    """The login page then its form, counted under `name` (« <name> page », « <name> »): a failure unless the portal
    redirects (to `then`, if given: the agents' TOTP code page)."""
    page = client.get(WORLD["login"], name=f"{name} page")
    with client.post(
        WORLD["login"],
        {"login": email, "password": WORLD["password"], "csrfmiddlewaretoken": pages.csrf(page.text)},
        name=name,
        allow_redirects=False,
        catch_response=True,
    ) as response:
        location = response.headers.get("Location")
        if response.status_code != 302 or (then is not None and location != then):
            response.failure(f"login: {response.status_code} {location}")


class _Account(HttpUser):
    abstract = True

    def on_start(self):
        number = next(_next_account)
        self.account = WORLD["users"][number % len(WORLD["users"])]
        self.client.headers["X-Forwarded-For"] = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        try:
            self.log_in()
        finally:
            _user_started()

    def log_in(self):
        log_in(self.client, self.account["email"], name="login")


class Establishment(_Account):
    wait_time = between(*PAUSE) if PAUSE[1] > 0 else constant(0)

    @task
    def journey(self):
        account = self.account
        self.client.get(account["home"], name="home")
        self.wait()
        self.client.get(account["ej"], name="ej")
        self.wait()
        self.client.get(account["contract"], name="contract")
        self.wait()
        self.client.get(account["tree"], name=f"tree {account['questions']}")
        self.wait()
        code = random.choice(account["codes"])
        url = f"{account['question_prefix']}{code}/"
        page = self.client.get(url, name=f"question {account['questions']}")
        self.wait()
        with self.client.post(
            url,
            pages.answer(page.text),
            name="save",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"save: {response.status_code}")
        page = self.client.get(url, name=f"question {account['questions']}")
        self.wait()
        if random.random() < 0.1:
            with self.client.post(
                f"{url}documents/",
                {"csrfmiddlewaretoken": pages.csrf(page.text), "jeton": str(uuid.uuid4())},
                files={"documents": ("justificatif.pdf", PDF, "application/pdf")},
                name="upload 1 Mo",
                allow_redirects=False,
                catch_response=True,
            ) as response:
                if response.status_code != 302:
                    response.failure(f"upload: {response.status_code}")
            self.wait()
        self.client.get(account["tree"], name=f"tree {account['questions']}")


class Agent(HttpUser):
    fixed_count = int(os.environ.get("AGENTS", 0))
    wait_time = between(*PAUSE) if PAUSE[1] > 0 else constant(0)

    def on_start(self):
        number = next(_next_agent)
        self.account = WORLD["agents"][number % len(WORLD["agents"])]
        self.client.headers["X-Forwarded-For"] = f"10.250.{number // 256 % 256}.{number % 256}"
        try:
            self.log_in()
        finally:
            _user_started()

    def log_in(self):
        log_in(self.client, self.account["email"], name="agent: login", then=WORLD["code"])
        page = self.client.get(WORLD["code"], name="agent: code page")
        with self.client.post(
            WORLD["code"],
            {
                "code": pages.totp_code(self.account["secret"], self.account["email"]),
                "csrfmiddlewaretoken": pages.csrf(page.text),
            },
            name="agent: code",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"code: {response.status_code}")

    @task
    def decide(self):
        evaluation = random.choice(self.account["evaluations"])
        size = evaluation["questions"]
        self.client.get(WORLD["evaluations"], name="agent: list")
        self.wait()
        self.client.get(evaluation["evaluate"], name=f"agent: evaluate {size}")
        self.wait()
        url = random.choice(evaluation["values"])
        page = self.client.get(url, name=f"agent: question {size}")
        self.wait()
        with self.client.post(
            url, pages.decision(page.text), name="agent: decide", allow_redirects=False, catch_response=True
        ) as response:
            if not pages.decision_recorded(response.status_code, response.headers.get("Location", ""), url):
                response.failure(f"decide: {response.status_code} {response.headers.get('Location')}")
        self.wait()
        self.client.get(evaluation["evaluate"], name=f"agent: evaluate {size}")


class StormEstablishment(_Account):
    wait_time = constant(600)

    @task
    def stay(self):
        pass


class Floor(HttpUser):
    wait_time = constant(0)

    @task
    def bare(self):
        self.client.get("/bench/minimal/", name="floor: minimal view")
