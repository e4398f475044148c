"""Anonymous requests cannot write without limit (issue 9, item 11).

The audit table is append-only: a row per throttled request let one client write ~80 rows a
second. A session row per visit of an invitation link let anyone fill the session table.
"""

import datetime
import re

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import invitations
from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import log_in
from tests.conftest import Client
from tests.ecars.test_access import PUBLIC_ROUTES, route_path


WRONG_PASSWORD = "Pas-le-bon-2031!"


def throttled_events():
    return list(AuditEvent.objects.filter(event_type=EventType.LOGIN_THROTTLED).order_by("pk"))


@pytest.fixture
def user():
    return UserFactory(email="signataire@chu-exemple.fr")


def test_a_hundred_throttled_logins_write_one_row_per_minute_and_count_the_others(user):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = Client()
        for _ in range(5):
            log_in(client, user.email, WRONG_PASSWORD)
        for _ in range(100):
            response = log_in(client, user.email, WRONG_PASSWORD)
        assert "Trop de tentatives de connexion infructueuses" in response.content.decode()

        [first] = throttled_events()
        assert (first.actor, first.ip_address) == (user, "127.0.0.1")
        assert first.data == {"email": user.email, "action": "login"}

        traveller.shift(datetime.timedelta(seconds=61))
        log_in(client, user.email, WRONG_PASSWORD)

    [_, second] = throttled_events()
    # The 99 throttled attempts that were only counted are reported by the next row.
    assert second.data == {"email": user.email, "action": "login", "suppressed": 99}


def test_throttled_logins_are_counted_per_client_address(user):
    """Two clients (two addresses) each get their own row: one cannot hide the other."""
    with time_machine.travel(timezone.now(), tick=False):
        for address in ("192.0.2.1", "192.0.2.2"):
            client = Client(REMOTE_ADDR=address)
            for _ in range(20):
                log_in(client, user.email, WRONG_PASSWORD)
    assert sorted(event.ip_address for event in throttled_events()) == ["192.0.2.1", "192.0.2.2"]


def test_a_hundred_429_answers_write_one_row(settings, user):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "1/m/ip"}
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = Client()
        statuses = [log_in(client, user.email, DEFAULT_PASSWORD).status_code for _ in range(101)]
        assert statuses.count(429) == 100

        [first] = throttled_events()
        assert first.ip_address == "127.0.0.1"
        assert first.data == {"path": reverse("account_login"), "action": "account_login"}

        traveller.shift(datetime.timedelta(seconds=61))
        statuses = [log_in(Client(), user.email, DEFAULT_PASSWORD).status_code for _ in range(2)]
        assert statuses == [302, 429]

    [_, second] = throttled_events()
    assert second.data["suppressed"] == 99


# Sessions


def public_route_paths():
    paths = [route_path(name) for name in sorted(PUBLIC_ROUTES)]
    # The invitation link with a token that opens nothing (the sample path has a made-up one too).
    return [*paths, reverse("accounts:accept_invitation_token", args=["A" * 43])]


@pytest.mark.parametrize("path", public_route_paths())
def test_opening_a_public_page_creates_no_session(client, path):
    before = Session.objects.count()
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert Session.objects.count() == before
    assert not any(name.endswith("sessionid") for name in client.cookies)


def test_a_hundred_made_up_invitation_links_create_no_session():
    for number in range(100):
        response = Client().get(reverse("accounts:accept_invitation_token", args=[f"{number:043d}"]), follow=True)
        assert "Ce lien n'est plus valable" in response.content.decode()
    assert Session.objects.count() == 0


@pytest.fixture
def invitation_token(django_capture_on_commit_callbacks):
    """The token of a fresh invitation, read from its e-mail (only its hash is stored)."""
    invitee = UserFactory(email="nouvelle.collegue@chu-exemple.fr")
    with django_capture_on_commit_callbacks(execute=True):
        invitations.send_invitation(invitee, acting_user=None)
    [token] = re.findall(r"/compte/invitation/([\w-]+)/", mail.outbox[-1].body)
    return token


def test_a_usable_link_still_starts_a_session_and_opens_the_form(client, invitation_token):
    response = client.get(reverse("accounts:accept_invitation_token", args=[invitation_token]), follow=True)

    assert Session.objects.count() == 1
    assert "Activer votre compte" in response.content.decode()
    assert "nouvelle.collegue@chu-exemple.fr" in response.content.decode()


def test_a_bad_link_forgets_the_token_of_an_earlier_good_one(client, invitation_token):
    """A visitor holding a good link's token who opens a bad link sees the bad link's page, not the good one's form."""
    client.get(reverse("accounts:accept_invitation_token", args=[invitation_token]))

    response = client.get(reverse("accounts:accept_invitation_token", args=["B" * 43]), follow=True)

    assert "Ce lien n'est plus valable" in response.content.decode()
    assert "nouvelle.collegue@chu-exemple.fr" not in response.content.decode()
