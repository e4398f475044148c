"""Scale-out (issue 14, README « Passage à l'échelle »): two gunicorn processes that share PostgreSQL, Redis and S3
serve a user as one portal, whichever of them the load balancer picks for each request.

Started once for the module: two gunicorn processes (the project's gunicorn.conf.py, one worker each, each on its
own loopback port) and the tasks worker (`manage.py db_worker`), all with the production settings
(tests/ecars/production_settings.py) pointed at this test's database (committed data: `transaction=True`), a Redis
database of their own (REDIS_URL, emptied first), a SeaweedFS bucket (tests/s3.py) and the suite's clamd on its
EICAR-only signatures (tests/documents/conftest.py; where ClamAV is not installed, scanning is off as in the demo,
and uploads stay downloadable « en attente »).

The test plays a browser behind a load balancer without sticky sessions: it sends each request to the process it
names, with what the load balancer adds (Host, X-Forwarded-Proto: https, X-Forwarded-For), and keeps the cookies a
browser keeps. Everything goes over HTTP through the real pages and forms, CSRF tokens included.
"""

import hashlib
import os
import secrets
import sys
import time
from dataclasses import dataclass, field

import pytest
from allauth.core.internal.ratelimit import parse_rates
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts.adapters import AccountAdapter
from accounts.hashers import Argon2idHasher
from documents.enums import ScanStatus
from documents.models import Document
from evaluation.enums import SelfEvaluationState
from evaluation.models import ClosureReceipt
from tests.conftest import free_port
from tests.contracts.factories import ContractFactory
from tests.documents import conftest_s3
from tests.documents.conftest import clamd  # noqa: F401 - the suite's clamd, as a fixture of this module
from tests.documents.corpus import sample
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, SelfEvaluationFactory
from tests.portal import HOST, ORIGIN, Browser, start, stop, tail, wait_until_serving


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow_subprocess]

s3_server = conftest_s3.s3_server

# Databases 12 to 15: one per process of the suite (pytest-xdist's gw0…gw3), which may each start this module's portal.
REDIS_URL = f"redis://127.0.0.1:6379/{12 + int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0').removeprefix('gw'))}"
PASSWORD = "Mise-a-l-echelle-2026!"
START_TIMEOUT = 60
SCAN_TIMEOUT = 30
INCORRECT = AccountAdapter.error_messages["email_password_mismatch"]
THROTTLED = AccountAdapter.error_messages["too_many_login_attempts"]


# --- The processes ------------------------------------------------------------------------------------------------


@dataclass
class Portal:
    """The running processes: `a` and `b` are the two gunicorn's ports."""

    a: int
    b: int
    scanning: bool
    processes: dict = field(default_factory=dict)  # name: (Popen, log file)

    def assert_running(self):
        for name, (process, log) in self.processes.items():
            assert process.poll() is None, f"{name} s'est arrêté ({process.returncode}) :\n{tail(log)}"

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{tail(log)}" for name, (_, log) in self.processes.items())


@pytest.fixture(scope="module")
def redis_db():
    """The Redis database of this module's processes, emptied before and after."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis server at {REDIS_URL} (CI has one)")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def clamd_socket(request):
    """The suite's clamd socket, or "" (scanning off, as in the demo) where ClamAV is not installed."""
    try:
        return request.getfixturevalue("clamd")
    except pytest.skip.Exception:
        return ""


@pytest.fixture(scope="module")
def portal(django_db_setup, redis_db, s3_server, clamd_socket, tmp_path_factory):
    """Two gunicorn processes and the tasks worker, as production runs them, on this test's database."""
    database = connection.settings_dict
    folder = tmp_path_factory.mktemp("scale-out")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(folder)),
        "ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "tests.ecars.production_settings",
        # What every process shares: the key (sessions, CSRF, sealed tasks), the database, the cache, the bucket.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "CACHE_URL": REDIS_URL,
        **s3_server.environment(),
        "CLAMD_SOCKET": clamd_socket,
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": ORIGIN,
        "TRUSTED_PROXY_COUNT": "1",
        "EMAIL_URL": "consolemail://",
        "WEB_CONCURRENCY": "1",
    }
    if database["PASSWORD"]:
        env["PGPASSWORD"] = database["PASSWORD"]
    a, b = free_port(), free_port()
    while b == a:
        b = free_port()
    portal = Portal(a=a, b=b, scanning=bool(clamd_socket))
    commands = {
        "gunicorn A": ([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "ecars.wsgi"], portal.a),
        "gunicorn B": ([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "ecars.wsgi"], portal.b),
        "db_worker": ([sys.executable, "manage.py", "db_worker"], None),
    }
    try:
        for name, (command, port) in commands.items():
            log = folder / f"{name.replace(' ', '-')}.log"
            process = start(command, {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"} if port else env, log)
            portal.processes[name] = (process, log)
        deadline = time.monotonic() + START_TIMEOUT
        for port in (portal.a, portal.b):
            wait_until_serving(port, deadline, check_running=portal.assert_running)
        portal.assert_running()
        yield portal
    finally:
        for process, _ in portal.processes.values():
            stop(process)


@pytest.fixture
def running(portal):
    """The portal, checked running; after the test, the queue drained before the database is emptied."""
    portal.assert_running()
    yield portal
    deadline = time.monotonic() + SCAN_TIMEOUT
    pending = DBTaskResult.objects.ready() | DBTaskResult.objects.running()
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


# --- The world ----------------------------------------------------------------------------------------------------


@pytest.fixture
def signataire(member):
    """The signataire of `ej`, whose password the production's hasher made (the test settings use MD5)."""
    member.password = make_password(PASSWORD, hasher=Argon2idHasher())
    member.save(update_fields=["password"])
    return member


@pytest.fixture
def self_evaluation(ej, region):
    """An open self-evaluation of `ej` with one question, answered: ready to close."""
    contract = ContractFactory(ej=ej, name="CAQES MISE A L'ECHELLE")
    campaign = CampaignFactory(contract_type=contract.contract_type, regions=[region])
    self_evaluation = SelfEvaluationFactory(contract=contract, campaign=campaign)
    referential = campaign.referential
    objective = NodeFactory(referential=referential, code="1", label="Améliorer la pertinence des prescriptions")
    question = NodeFactory(
        referential=referential, parent=objective, code="1.a", label="Livret thérapeutique", oui_non=True
    )
    IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question, value="1")
    return self_evaluation


# --- The tests ----------------------------------------------------------------------------------------------------


def test_a_session_opened_through_one_process_holds_on_the_other(running, signataire, ej):
    browser = Browser("192.0.2.10")
    home = reverse("contracts:home")

    response = browser.log_in(running.a, signataire.email, PASSWORD)

    assert response.status == 302, response.text
    assert response.headers["Location"] == home
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME]
    assert Session.objects.filter(session_key=session_key).exists()  # in PostgreSQL, not in a process
    on_b = browser.get(running.b, home)
    assert on_b.status == 200
    assert ej.name in on_b.text
    assert browser.get(running.a, home).status == 200

    assert browser.submit(running.b, on_b, reverse("account_logout")).status == 302

    assert settings.SESSION_COOKIE_NAME not in browser.cookies
    assert not Session.objects.filter(session_key=session_key).exists()
    for port in (running.a, running.b):
        response = browser.get(port, home)
        assert response.status == 302
        assert response.headers["Location"].startswith(reverse("account_login"))


def test_a_rate_limit_counts_the_failures_of_both_processes(running, redis_db, signataire):
    rates = parse_rates(settings.ACCOUNT_RATE_LIMITS["login_failed"])
    # Every failure below comes from one account and one address: the smallest limit is the one reached.
    limit = min(rate.amount for rate in rates if rate.per in ("key", "ip"))
    attempts = min(rate.amount for rate in parse_rates(settings.ACCOUNT_RATE_LIMITS["login"]))
    assert limit >= 2 and attempts > limit + 2, "the failures must be counted on both processes, before any limit"
    browser = Browser("192.0.2.20")
    login = reverse("account_login")
    page = browser.get(running.a, login)
    ports = [running.a, running.b] * limit

    for port in ports[:limit]:  # A, B, A, B…: each process adds to the same counters
        response = browser.submit(
            port, page, login, {"login": signataire.email, "password": "Mauvais-mot-de-passe-1!"}
        )
        assert response.status == 200
        assert INCORRECT in response.text
        assert THROTTLED not in response.text

    assert any(b"login_failed" in key for key in redis_db.keys("*"))
    for port in (running.a, running.b):  # the right password is now refused by either
        response = browser.submit(port, page, login, {"login": signataire.email, "password": PASSWORD})
        assert response.status == 200
        assert THROTTLED in response.text
        assert settings.SESSION_COOKIE_NAME not in browser.cookies


def test_a_document_uploaded_through_one_process_downloads_through_the_other(
    running, s3_server, signataire, self_evaluation
):
    pdf = sample("valid.pdf")
    browser = Browser("192.0.2.30")
    assert browser.log_in(running.a, signataire.email, PASSWORD).status == 302
    question = reverse("evaluation:question", args=[self_evaluation.public_id, "1.a"])
    upload = reverse("evaluation:question_upload", args=[self_evaluation.public_id, "1.a"])

    response = browser.submit(
        running.a,
        browser.get(running.a, question),
        upload,
        files={"documents": ("rapport-pertinence.pdf", pdf, "application/pdf")},
    )

    assert response.status == 302, response.text
    document = _scanned(Document.objects.get(original_name="rapport-pertinence.pdf"), scanning=running.scanning)
    # With clamd, downloadable once the worker has it « sain »; without, « en attente » and downloadable.
    assert document.scan_status == (ScanStatus.SAIN if running.scanning else ScanStatus.EN_ATTENTE)
    on_b = browser.get(running.b, reverse("documents:download", args=[document.public_id]))
    assert on_b.status == 200, on_b.text
    assert on_b.body == pdf
    stored = s3_server.client().get_object(Bucket=s3_server.bucket, Key=document.file.name)["Body"].read()
    assert stored == pdf
    assert not (settings.BASE_DIR / "private" / "documents" / document.file.name).exists()


def _scanned(document: Document, *, scanning: bool) -> Document:
    """The document once the worker has its verdict from clamd (at once when scanning is off)."""
    deadline = time.monotonic() + SCAN_TIMEOUT
    while document.scan_status == ScanStatus.EN_ATTENTE and scanning and time.monotonic() < deadline:
        time.sleep(0.1)
        document.refresh_from_db()
    return document


def test_a_closure_receipt_made_by_one_process_is_served_by_the_other(running, s3_server, signataire, self_evaluation):
    browser = Browser("192.0.2.40")
    assert browser.log_in(running.a, signataire.email, PASSWORD).status == 302
    close = reverse("evaluation:close", args=[self_evaluation.public_id])

    response = browser.submit(running.a, browser.get(running.a, close), close)

    assert response.status == 302, response.text
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.CLOTUREE
    receipt = reverse("evaluation:receipt", args=[self_evaluation.public_id])
    on_b, on_a = browser.get(running.b, receipt), browser.get(running.a, receipt)
    assert on_b.status == on_a.status == 200
    assert on_b.headers["Content-Type"] == "application/pdf"
    assert on_b.body.startswith(b"%PDF-")
    assert on_b.body == on_a.body
    [closure_receipt] = ClosureReceipt.objects.filter(self_evaluation=self_evaluation)
    assert hashlib.sha256(on_b.body).hexdigest() == closure_receipt.file_sha256
    stored = s3_server.client().get_object(Bucket=s3_server.bucket, Key=closure_receipt.file.name)["Body"].read()
    assert stored == on_b.body
