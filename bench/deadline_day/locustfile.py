"""Locust scenarios of deadline day (bench/deadline_day/run.py runs them; ACCOUNTS names the world's JSON).

- `Establishment`: logs in once, then loops home → EJ → contract → tree → question → save → question → tree,
  with a 1 Mo PDF added to the question one loop in ten; a pause of PAUSE_MIN to PAUSE_MAX seconds after each
  page, as a person reads it (0 and 0: the stress run). Each virtual user is one establishment, from its own client
  address (X-Forwarded-For, as the reverse proxy would send it: the portal runs with TRUSTED_PROXY_COUNT=1).
- `StormEstablishment`: logs in, then stays idle (the login storm).
- `Floor`: the minimal view of bench/urls.py behind the same gunicorn, without pauses.
"""

import itertools
import json
import os
import random
import re
import uuid

from locust import HttpUser, between, constant, task


with open(os.environ["ACCOUNTS"]) as _file:
    WORLD = json.load(_file)
_next_account = itertools.count()
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')
PAUSE = (float(os.environ.get("PAUSE_MIN", 2)), float(os.environ.get("PAUSE_MAX", 10)))
# A PDF of about 1 Mo: the header, a comment of padding, the end mark.
PDF = b"%PDF-1.4\n%" + b"e-CARS charge " * 74_898 + b"\n%%EOF\n"


def _csrf(response) -> str:
    found = _CSRF.search(response.text)
    return found.group(1) if found else ""


class _Account(HttpUser):
    abstract = True

    def on_start(self):
        number = next(_next_account)
        self.account = WORLD["users"][number % len(WORLD["users"])]
        self.client.headers["X-Forwarded-For"] = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        self.log_in()

    def log_in(self):
        page = self.client.get(WORLD["login"], name="login page")
        with self.client.post(
            WORLD["login"],
            {"login": self.account["email"], "password": WORLD["password"], "csrfmiddlewaretoken": _csrf(page)},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login: {response.status_code}")


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
        version = _VERSION.search(page.text)
        with self.client.post(
            url,
            {
                "csrfmiddlewaretoken": _csrf(page),
                "version": version.group(1) if version else "1",
                "value": random.choice(["1", "0"]),
                "not_applicable_reason": "",
                "comment": f"Saisie {uuid.uuid4().hex[:8]}",
            },
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
                {"csrfmiddlewaretoken": _csrf(page), "jeton": str(uuid.uuid4())},
                files={"documents": ("justificatif.pdf", PDF, "application/pdf")},
                name="upload 1 Mo",
                allow_redirects=False,
                catch_response=True,
            ) as response:
                if response.status_code != 302:
                    response.failure(f"upload: {response.status_code}")
            self.wait()
        self.client.get(account["tree"], name=f"tree {account['questions']}")


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
