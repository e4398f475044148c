"""« Renouveler le mot de passe »: a known address and an unknown one cost the request the same work
(SECURITY.md A12, issue 9: the request took a median of 14 ms for a known address against 10.5 ms).

Timing is not asserted here (bench/reset_timing.py measures it); what makes it equal is: the same SQL
statements in the same order, and one identical task queued, whatever the address. The per-account
work (lookup, e-mail, audit row) happens in that task, in the background worker.
"""

import re

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from pytest_django.asserts import assertContains, assertRedirects

from accounts.reset_code import send_reset_code
from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import submit_code
from tests.conftest import Client


SESSION_KEY = "account_password_reset_verification"


@pytest.fixture
def user():
    return UserFactory(email="signataire@chu-exemple.fr")


@pytest.fixture
def database_tasks(settings):
    """Tasks queued as in production (a row in the task table), not run on the spot."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


class StatementRecorder:
    """The SQL the request sends, as written (placeholders, not values)."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        # Savepoint names are numbered per transaction: their number says nothing about the address.
        self.statements.append(re.sub(r'"s\d+_x\d+"', '"savepoint"', sql))
        return execute(sql, params, many, context)


def recorded(client, method, *args):
    recorder = StatementRecorder()
    with connection.execute_wrapper(recorder):
        response = getattr(client, method)(*args)
    return response, recorder.statements


def request_code(email):
    client = Client()
    response, statements = recorded(client, "post", reverse("account_reset_password"), {"email": email})
    return client, response, statements


def without_csrf_and(response, email):
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)
    return content.replace(email.encode(), b"ADDRESS")


def test_known_and_unknown_addresses_send_the_same_sql_and_queue_one_identical_task(database_tasks, user):
    request_code("pour-chauffer@exemple.fr")  # the first request of a process loads what it caches
    DBTaskResult.objects.all().delete()

    known_client, known, known_sql = request_code(user.email)
    unknown_client, unknown, unknown_sql = request_code("personne@inconnu.fr")

    assert known_sql == unknown_sql
    assert (known.status_code, known["Location"], known.content) == (
        unknown.status_code,
        unknown["Location"],
        unknown.content,
    )
    known_task, unknown_task = DBTaskResult.objects.order_by("enqueued_at", "id")
    assert known_task.task_path == unknown_task.task_path == "accounts.reset_code.send_reset_code"
    assert [type(arg) for arg in known_task.args_kwargs["args"]] == [str]
    assert [type(arg) for arg in unknown_task.args_kwargs["args"]] == [str]
    assert known_task.args_kwargs["kwargs"] == unknown_task.args_kwargs["kwargs"] == {}
    # Nothing about the account was done in the request: no e-mail, no audit row.
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(event_type=EventType.RESET_CODE_SENT).exists()
    # Both browsers get the same next screen.
    known_page = known_client.get(reverse("account_confirm_password_reset_code"))
    unknown_page = unknown_client.get(reverse("account_confirm_password_reset_code"))
    assert without_csrf_and(known_page, user.email) == without_csrf_and(unknown_page, "personne@inconnu.fr")

    # The code stays in the session of the browser that asked; the task table holds it sealed only,
    # and does not even show which address was asked for.
    code = known_client.session[SESSION_KEY]["code"]
    assert re.fullmatch(r"\d{6}", code)
    for row in (known_task, unknown_task):
        assert code not in str(row.args_kwargs)
        assert "chu-exemple.fr" not in str(row.args_kwargs) and "inconnu.fr" not in str(row.args_kwargs)

    # In the worker, the task writes to the account's owner, or does nothing.
    send_reset_code.call(*unknown_task.args_kwargs["args"])
    assert mail.outbox == []
    send_reset_code.call(*known_task.args_kwargs["args"])
    [message] = mail.outbox
    assert message.to == [user.email]
    assert re.search(rf"^{code}$", message.body, re.MULTILINE)
    [sent] = AuditEvent.objects.filter(event_type=EventType.RESET_CODE_SENT)
    assert (sent.actor, sent.ip_address) == (user, "127.0.0.1")


def test_a_wrong_code_costs_the_same_for_a_known_and_an_unknown_address(database_tasks, user):
    """The second screen must not tell them apart either: the same SQL, an audit row each."""
    known_client, _, _ = request_code(user.email)
    unknown_client, _, _ = request_code("personne@inconnu.fr")

    wrong = "000000" if known_client.session[SESSION_KEY]["code"] != "000000" else "111111"
    url = reverse("account_confirm_password_reset_code")
    known, known_sql = recorded(known_client, "post", url, {"code": wrong})
    unknown, unknown_sql = recorded(unknown_client, "post", url, {"code": wrong})

    assert known_sql == unknown_sql
    assert without_csrf_and(known, user.email) == without_csrf_and(unknown, "personne@inconnu.fr")
    assertContains(unknown, "Code de vérification incorrect.")
    rejected = AuditEvent.objects.filter(event_type=EventType.RESET_CODE_REJECTED).order_by("pk")
    assert [event.actor for event in rejected] == [user, None]


def test_the_code_drawn_for_an_unknown_address_leads_nowhere(client):
    """It was never sent; even typed right (read here from the session), it is refused."""
    client.post(reverse("account_reset_password"), {"email": "personne@inconnu.fr"})
    code = client.session[SESSION_KEY]["code"]

    response = submit_code(client, code)

    assertContains(response, "Code de vérification incorrect.")
    assertRedirects(
        client.get(reverse("account_complete_password_reset")),
        reverse("account_confirm_password_reset_code"),
        fetch_redirect_response=False,
    )
    assert mail.outbox == []


def test_a_deactivated_account_is_an_unknown_address(client):
    UserFactory(email="ancien@chu-exemple.fr", is_active=False)

    client.post(reverse("account_reset_password"), {"email": "ancien@chu-exemple.fr"})

    assert mail.outbox == []
    assertContains(submit_code(client, client.session[SESSION_KEY]["code"]), "Code de vérification incorrect.")


def test_modifying_the_address_on_screen_two_tells_nothing_either(database_tasks, user):
    """« Modifier l'adresse e-mail » posts the new address to screen 1's view: the same SQL, the same answer
    and one identical task whether the new address has an account or not."""
    request_code("pour-chauffer@exemple.fr")
    known_client, _, _ = request_code("premiere@inconnu.fr")
    unknown_client, _, _ = request_code("premiere@inconnu.fr")
    DBTaskResult.objects.all().delete()
    # The address form of screen 2 posts where screen 1 does.
    page = known_client.get(reverse("account_confirm_password_reset_code"))
    assertContains(page, f'<form method="post" action="{reverse("account_reset_password")}"')

    url = reverse("account_reset_password")
    known, known_sql = recorded(known_client, "post", url, {"email": user.email})
    unknown, unknown_sql = recorded(unknown_client, "post", url, {"email": "personne@inconnu.fr"})

    assert known_sql == unknown_sql
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert DBTaskResult.objects.count() == 2
    assert mail.outbox == []
    known_page = known_client.get(reverse("account_confirm_password_reset_code"))
    unknown_page = unknown_client.get(reverse("account_confirm_password_reset_code"))
    assert without_csrf_and(known_page, user.email) == without_csrf_and(unknown_page, "personne@inconnu.fr")
