"""Test harness: every test may use the database; the personas every view is tested with.

Personas (STYLE.md §52): anonymous, a member of the EJ, a member of another EJ, ARS staff of the
EJ's region. The `client_for` fixture logs a persona in.
"""

import re
import shutil
import socket
import time

import psycopg
import pytest
from aiosmtpd.controller import Controller
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.internal.userkit import user_id_to_str
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler
from django.test import Client as DjangoClient
from django.test import TestCase

from contracts.enums import MembershipRole
from evaluation import tree
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory, RegionFactory


class Client(DjangoClient):
    """A test client whose requests end as in production: their on-commit work (e-mails, tasks) runs.

    Inside a test's transaction nothing ever commits, so without this the e-mails that a request
    queues « after the commit » would never be sent.
    """

    def request(self, **request):
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = super().request(**request)
        _assert_post_forms_carry_a_csrf_token(response)
        if getattr(response, "streaming", False):
            _streaming_responses.append(response)
        return response


# A WSGI server closes every response, read or not; the test client closes a streaming response only
# once read to the end. Those a test does not read (a download it only checks the status of) are
# closed after the test, as the server would, so their files are not left open.
_streaming_responses = []


@pytest.fixture(autouse=True)
def _close_streaming_responses():
    yield
    while _streaming_responses:
        _streaming_responses.pop().close()


_POST_FORM = re.compile(rb'<form[^>]*method="post"[^>]*>(.*?)</form>', re.DOTALL | re.IGNORECASE)


def _assert_post_forms_carry_a_csrf_token(response):
    """The test client skips CSRF checks; browsers do not. Every POST form we render must carry the token."""
    if "text/html" not in response.get("Content-Type", "") or getattr(response, "streaming", False):
        return
    for form in _POST_FORM.findall(response.content):
        assert b'name="csrfmiddlewaretoken"' in form, "a POST form without {% csrf_token %}: " + form[:300].decode()


@pytest.fixture
def client():
    return Client()


@pytest.fixture(scope="session", autouse=True)
def _locks_name_their_tables():
    """`select_for_update()` with `select_related()` locks every joined row (the contract, the EJ, the
    region…) unless it says `of=`: on deadline day that would serialise unrelated writers (issue 10)."""
    original = SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        query = self.query
        if query.select_for_update and query.select_related and not query.select_for_update_of:
            raise AssertionError("select_for_update() with select_related() must name what it locks: of=('self',)")
        return original(self, *args, **kwargs)

    SQLCompiler.as_sql = as_sql
    yield
    SQLCompiler.as_sql = original


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters and other cached state (the referentials' nodes this process keeps) never leak from
    one test to the next."""
    cache.clear()
    tree._NODES.clear()


def pytest_configure(config):
    """The suite needs PostgreSQL (row locks, append-only triggers, a worker sharing the database): never a
    silent skip of those tests on another database, a clear stop instead."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(
            f"Les tests tournent sur PostgreSQL, pas sur {database['ENGINE']} : indiquez DATABASE_URL=postgres://… "
            "(par défaut postgres://postgres@127.0.0.1:5432/ecars) ou lancez `make test`.",
            returncode=2,
        )
    try:
        psycopg.connect(
            host=database["HOST"],
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as error:
        pytest.exit(
            f"PostgreSQL n'est pas joignable ({database['HOST']}:{database['PORT'] or 5432}) : {error}. Démarrez-le "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) ou indiquez DATABASE_URL.",
            returncode=2,
        )


def pytest_collection_modifyitems(items):
    # Every test may touch the database unless it asks for more (e.g. transaction=True).
    for item in items:
        if item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db)


def pytest_sessionfinish(session, exitstatus):
    location = settings.STORAGES["documents"]["OPTIONS"]["location"]
    if "ecars-test-documents-" in location:
        shutil.rmtree(location, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _close_connections_before_dropping_the_test_database(django_db_setup):
    """Close every connection of this process before pytest-django drops the test database.

    After the browser tests, the connection in use may no longer be the one pytest-django captured
    when it created the database, and DROP DATABASE then fails on « being accessed by other users ».
    """
    yield
    connections.close_all()


@pytest.fixture
def region():
    return RegionFactory(code="76", name="Occitanie", agency_name="ARS Occitanie")


@pytest.fixture
def other_region():
    return RegionFactory(code="84", name="Auvergne-Rhône-Alpes", agency_name="ARS Auvergne-Rhône-Alpes")


@pytest.fixture
def ej(region):
    return EntiteJuridiqueFactory(region=region)


@pytest.fixture
def other_ej(region):
    """Another EJ of the same region: its data must stay invisible to the members of `ej`."""
    return EntiteJuridiqueFactory(region=region)


@pytest.fixture
def member(ej):
    """A signataire of `ej`."""
    return MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user


@pytest.fixture
def other_member(other_ej):
    """A signataire of `other_ej` only."""
    return MembershipFactory(ej=other_ej, role=MembershipRole.SIGNATAIRE).user


@pytest.fixture
def ars_staff(region):
    """An ARS agent of the region of `ej`."""
    return UserFactory(ars_staff=True, region=region)


def log_in_with_totp(client, user):
    """Log `user` in as after the TOTP step: staff need it for the admin (set up here if missing)."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())
    client.force_login(user)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "password", "at": time.time(), "email": user.email}]
    session[AUTHENTICATION_METHODS_SESSION_KEY].append({"method": "mfa", "at": time.time(), "type": "totp"})
    session["account_authentication_methods_user"] = user_id_to_str(user)
    session.save()
    return client


@pytest.fixture
def client_for():
    """Return a test client logged in as the given user (or anonymous for None).

    Staff are logged in as after the TOTP step, which the admin requires.
    """

    def make(user=None):
        client = Client()
        if user is not None and user.is_staff:
            return log_in_with_totp(client, user)
        if user is not None:
            client.force_login(user)
        return client

    return make


class _RecordingHandler:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd); `.envelopes` holds what it received."""
    handler = _RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.envelopes = handler.envelopes
    yield controller
    controller.stop()
