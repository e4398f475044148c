"""Test harness: every test may use the database; the personas every view is tested with.

Personas (STYLE.md §52): anonymous, a member of the EJ, a member of another EJ, ARS staff of the
EJ's region. The `client_for` fixture logs a persona in.
"""

import shutil
import socket

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connections
from django.test import Client

from accounts.groups import sync_groups
from contracts.enums import MembershipRole
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory, RegionFactory


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
    """An ARS agent of the region of `ej`, in the agency staff group."""
    user = UserFactory(ars_staff=True, region=region)
    user.groups.add(sync_groups())
    return user


@pytest.fixture
def client_for():
    """Return a test client logged in as the given user (or anonymous for None)."""

    def make(user=None):
        client = Client()
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
