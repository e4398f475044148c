"""Structured logs (issue 16, SECURITY.md F2): one JSON object per line, an access line per request and a line per
task run, each carrying the request's id, which the error pages show so that a user can quote it to support.

Lines are read as the console handler of the settings writes them: its filter and its formatter, fed every record.
This module is also the URL configuration of the error-page tests (a view that fails, one that refuses).
"""

import datetime
import json
import logging
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import OperationalError
from django.urls import path, reverse
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from ecars import views
from ecars.lib import logs
from ecars.lib.logs import JsonFormatter
from ecars.urls import handler400, handler403, handler404, handler429, handler500, urlpatterns  # noqa: F401
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import request_code
from tests.conftest import Client
from tests.contracts.factories import ContractFactory


def boom(request):
    raise RuntimeError("l'erreur\nsur deux lignes")


def refused(request):
    raise PermissionDenied


def database_down(request):
    raise OperationalError("connection to server at 127.0.0.1 failed")


@task()
def failing_task():
    raise RuntimeError("la tâche échoue\nsur deux lignes")


urlpatterns = [
    *urlpatterns,
    path("tests/boom/", boom),
    path("tests/refused/", refused),
    path("tests/database-down/", database_down),
    path("tests/lien/<str:token>/", boom),
]


class Lines(logging.Handler):
    """The lines the settings' console handler would write, with its own filter and formatter, given every record."""

    def __init__(self, console):
        super().__init__(level=logging.DEBUG)
        self.filters = list(console.filters)
        self.setFormatter(console.formatter)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def of(self, logger):
        return [json.loads(line) for line in self.lines if json.loads(line)["logger"] == logger]


@pytest.fixture
def lines():
    [console] = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    handler = Lines(console)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def test_every_line_is_one_json_object_whatever_the_message_and_the_exception(lines):
    logger = logging.getLogger("ecars.tests")
    try:
        raise ValueError('une valeur\r\nFAKE {"level": "INFO"}')
    except ValueError:
        logger.exception("échec\nligne\u2028séparée", extra={"email_count": 2, "user": UserFactory.build()})

    [line] = lines.lines
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert len(line.splitlines()) == 1
    record = json.loads(line)
    assert record["message"] == "échec\nligne\u2028séparée"
    assert (record["level"], record["logger"], record["email_count"]) == ("ERROR", "ecars.tests", 2)
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert 'ValueError: une valeur\r\nFAKE {"level": "INFO"}' in record["exception"]
    assert "user" not in record  # an object is left out: its str() would be the e-mail address
    timestamp = datetime.datetime.fromisoformat(record["timestamp"])
    assert timestamp.utcoffset() == datetime.timedelta(0)
    assert abs(datetime.datetime.now(datetime.UTC) - timestamp) < datetime.timedelta(seconds=30)


def test_the_access_line_has_the_documented_fields(client_for, member, ej, lines):
    contract = ContractFactory(ej=ej)
    url = reverse("contracts:contract_detail", args=[contract.public_id])

    response = client_for(member).get(url + "?code=123456", REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 200
    [access] = lines.of("ecars.access")
    assert set(access) == {
        "timestamp",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "view",
        "status",
        "duration_ms",
        "user_public_id",
        "ej_public_id",
        "client_ip",
    }
    assert access["request_id"] == response["X-Request-ID"]
    assert (access["method"], access["path"], access["view"], access["status"]) == (
        "GET",
        url,
        "contracts:contract_detail",
        200,
    )
    assert (access["user_public_id"], access["ej_public_id"]) == (str(member.public_id), str(ej.public_id))
    assert access["client_ip"] == "198.51.100.7"
    assert isinstance(access["duration_ms"], float) and 0 < access["duration_ms"] < 60_000
    assert access["message"] == f"GET {url} 200 {access['duration_ms']:.1f}ms"
    assert "123456" not in lines.lines[-1] and member.email not in "".join(lines.lines)


def test_an_anonymous_request_and_a_proxys_request_id(client, lines):
    response = client.get(reverse("contracts:home"), headers={"x-request-id": "proxy-id-0123456789"})

    assert response.status_code == 302
    [access] = lines.of("ecars.access")
    assert access["request_id"] == response["X-Request-ID"] == "proxy-id-0123456789"
    assert (access["user_public_id"], access["ej_public_id"], access["status"]) == (None, None, 302)


def test_a_secret_url_argument_is_masked_in_the_access_line(client, lines):
    token = "jeton-secret-de-test-0123456789"
    client.get(reverse("accounts:accept_invitation_token", args=[token]))

    [access] = lines.of("ecars.access")
    assert access["path"] == "/compte/invitation/[secret]/"
    assert token not in "".join(lines.lines)


@pytest.mark.urls("tests.ecars.test_logs")
def test_django_s_own_lines_mask_a_secret_url_argument_too(client_for, member, lines):
    """« Internal Server Error: <path> » (django.request) names the path as it came: its secret segment is masked."""
    token = "jeton-secret-de-test-0123456789"
    client = client_for(member)
    client.raise_request_exception = False

    assert client.get(f"/tests/lien/{token}/").status_code == 500

    [error] = lines.of("django.request")
    assert error["message"] == "Internal Server Error: /tests/lien/[secret]/"
    assert token not in "".join(lines.lines)


def test_every_line_of_a_request_carries_its_id_and_a_refusal_its_address(client_for, member, other_ej, lines):
    contract = ContractFactory(ej=other_ej)

    response = client_for(member).get(
        reverse("contracts:contract_detail", args=[contract.public_id]), REMOTE_ADDR="198.51.100.8"
    )

    assert response.status_code == 404
    logged = [json.loads(line) for line in lines.lines]
    assert {line["logger"] for line in logged} >= {"ecars.security", "ecars.access", "django.request"}
    assert {line["request_id"] for line in logged} == {response["X-Request-ID"]}
    [refusal] = lines.of("ecars.security")
    assert (refusal["client_ip"], refusal["status"], refusal["user_public_id"]) == (
        "198.51.100.8",
        404,
        str(member.public_id),
    )
    assert refusal["ej_public_id"] == str(other_ej.public_id)
    assert "request" not in lines.of("django.request")[0]  # Django's request object (query string and all) left out


def test_a_throttled_request_is_a_json_line_with_the_address(client, lines):
    user = UserFactory()
    for _ in range(3):  # ACCOUNT_RATE_LIMITS["reset_password"]: 3 an hour per address
        request_code(client, user.email)
    lines.lines.clear()

    response = client.post(reverse("account_reset_password"), {"email": user.email}, REMOTE_ADDR="198.51.100.9")

    assert response.status_code == 429
    [throttled] = lines.of("ecars.security")
    assert (throttled["event"], throttled["action"], throttled["client_ip"]) == (
        "rate_limited",
        "account_reset_password",
        "198.51.100.9",
    )
    assert throttled["request_id"] == response["X-Request-ID"]
    assert user.email not in "".join(lines.lines)


# --- The request's id on the error pages -------------------------------------------------------------------------


def shown_id(response) -> str:
    match = re.search(r"Identifiant de la requête, à communiquer au support : <code>([\w.-]+)</code>", response.text)
    assert match, response.text
    return match.group(1)


@pytest.mark.urls("tests.ecars.test_logs")
@pytest.mark.parametrize(
    "url,status,user",
    [
        ("/?q=%00", 400, None),
        ("/tests/refused/", 403, "member"),
        ("/cette-page-n-existe-pas/", 404, "member"),
        ("/tests/boom/", 500, "member"),
        ("/tests/database-down/", 503, "member"),
    ],
)
def test_each_error_page_shows_the_id_of_its_request(member, lines, url, status, user):
    client = Client(raise_request_exception=False)
    if user:
        client.force_login(member)

    response = client.get(url)

    assert response.status_code == status
    assert shown_id(response) == response["X-Request-ID"]
    [access] = lines.of("ecars.access")
    assert (access["request_id"], access["status"]) == (response["X-Request-ID"], status)
    if status == 500:
        [error] = lines.of("django.request")
        assert error["request_id"] == response["X-Request-ID"]
        assert "RuntimeError: l'erreur\nsur deux lignes" in error["exception"]


def test_the_500_handler_shows_the_id_without_touching_the_database(rf, django_assert_num_queries):
    """Called as Django calls it while a request is being answered: its id is shown, and no query is made."""
    logs.set_request_id("id-de-la-requete-500")
    try:
        with django_assert_num_queries(0):
            response = views.server_error(rf.get("/"))
    finally:
        logs.current_request_id.set(None)
    assert response.status_code == 500
    assert shown_id(response) == "id-de-la-requete-500"


def test_the_csrf_and_429_pages_show_the_id(client, lines):
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(reverse("account_login"), {"login": "x@exemple.fr", "password": "x"})
    assert response.status_code == 403
    assert shown_id(response) == response["X-Request-ID"]

    user = UserFactory()
    for _ in range(3):
        request_code(client, user.email)
    response = request_code(client, user.email)
    assert response.status_code == 429
    assert shown_id(response) == response["X-Request-ID"]


# --- Tasks -------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_task_run_by_the_worker_is_one_line_tied_to_the_request_that_queued_it(settings, lines):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    user = UserFactory()

    response = request_code(Client(), user.email)

    assert response.status_code == 302
    [queued] = lines.of("ecars.tasks")
    assert queued["request_id"] == response["X-Request-ID"]
    [row] = DBTaskResult.objects.all()
    assert queued["queued_task_id"] == str(row.id)
    lines.lines.clear()

    worker_loggers = [logging.getLogger(name) for name in ("django_tasks", "django_tasks_db")]
    levels = [logger.level for logger in worker_loggers]
    try:
        call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay")
    finally:  # the command sets its loggers' levels from its verbosity
        for logger, level in zip(worker_loggers, levels, strict=True):
            logger.setLevel(level)

    [run] = lines.of("ecars.tasks")
    assert not lines.of("django_tasks")  # its own started/finished lines give way to this one
    assert (run["task"], run["task_id"], run["status"]) == (queued["task"], str(row.id), "SUCCESSFUL")
    assert run["message"] == f"task SUCCESSFUL: {queued['task']}"
    assert isinstance(run["duration_ms"], float) and run["duration_ms"] >= 0
    assert "request_id" not in run
    # What the task itself logged carries the task's id.
    assert all(line["task_id"] == str(row.id) for line in map(json.loads, lines.lines) if "task_id" in line)
    assert user.email not in "".join(lines.lines)


def test_a_failed_task_is_one_error_line_with_its_traceback(lines):
    result = failing_task.enqueue()  # the tests' immediate backend runs it at once

    assert result.status == "FAILED"
    [run] = lines.of("ecars.tasks")[-1:]
    assert len(lines.of("ecars.tasks")) == 2  # enqueued, then the run: no other line about it
    assert not lines.of("django_tasks")
    assert (run["level"], run["status"], run["task_id"]) == ("ERROR", "FAILED", result.id)
    assert run["error"] == "builtins.RuntimeError"
    assert "RuntimeError: la tâche échoue\nsur deux lignes" in run["exception"]
    assert all(len(line.splitlines()) == 1 for line in lines.lines)
