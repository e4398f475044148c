"""No secret ever logged (issue 16, SECURITY.md F3): the flows run with every log line captured as the console
handler writes it, then each line is searched for each secret of the flow.

Secrets: the passwords typed (right and wrong), the renewal code, the invitation link's token (the portal's only
signed URL: downloads are streamed by the portal, never redirected to a presigned storage URL), the session cookie's
value, the CSRF cookie and form tokens, the storage keys of the documents, receipts and reports, and the free text a
user typed (an answer, its comment, a « Contester » observation).

Each flow runs twice: with the production levels (LOG_LEVEL=INFO), and with LOG_LEVEL=DEBUG, every logger then at
DEBUG (django.request, django.security, allauth, django_tasks, ours…) but those the settings pin whatever LOG_LEVEL
says: django.template, whose DEBUG lines carry a template's whole context (the CSRF token, the forms' values: this
test found it), and django.db.backends. The latter is set to DEBUG here all the same: with DEBUG=False, as in
production, Django writes no SQL line whatever that logger's level. Under DEBUG=True the SQL lines would hold the
session key and every text typed; that is why the settings pin it too, and why DEBUG is never on in production.
"""

import json
import logging
import re
import uuid

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents.models import Document
from ecars.lib.logs import JsonFormatter
from evaluation.models import ClosureReceipt, Observation, Report
from tests.accounts import test_invitations as invitations
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import GOOD_PASSWORD, last_code
from tests.conftest import Client
from tests.contracts.factories import MembershipFactory
from tests.documents import conftest as documents_conftest
from tests.documents.corpus import sample
from tests.ecars.test_logs import Lines
from tests.evaluation.test_closure import World
from tests.evaluation.test_contradictory import Contradictory
from tests.evaluation.test_observation_pages import page as question_page


storage_dir = documents_conftest.storage_dir

WRONG_PASSWORD = "Pas-Le-Bon-Mot-2031?"
COMMENT = "Commentaire confidentiel : le Dr Martin a quitté le service en mars."
ANSWER = "Réunions mensuelles avec la pharmacienne, Mme Durand."
OBSERVATION = "Observation contestée : la cible a été atteinte, voir le bilan signé par M. Leroy."
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(params=["LOG_LEVEL=INFO", "LOG_LEVEL=DEBUG"])
def captured(request):
    """Every record, at the production levels or with LOG_LEVEL=DEBUG: then every logger is at DEBUG (django.request,
    django.security, allauth, django_tasks…) except those the settings keep at a level of their own whatever LOG_LEVEL
    says; django.db.backends is at DEBUG too, to show that it writes nothing with DEBUG=False."""
    root = logging.getLogger()
    [console] = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    handler = Lines(console)
    loggers = [root, *(lg for lg in root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {logger: logger.level for logger in loggers}
    if request.param == "LOG_LEVEL=DEBUG":
        pinned = set(settings.LOGGING["loggers"]) - {"django.db.backends"}
        for logger in loggers:
            if logger.name not in pinned:
                logger.setLevel(logging.DEBUG)
    # Loggers that keep their records to themselves (django.server…) are listened to as well.
    listened = [root, *(logger for logger in loggers if not logger.propagate)]
    for logger in listened:
        logger.addHandler(handler)
    yield handler
    for logger in listened:
        logger.removeHandler(handler)
    for logger, level in levels.items():
        logger.setLevel(level)


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def assert_no_secret(captured, secrets):
    """No secret in any line, as written (JSON-escaped) nor as read back (unescaped)."""
    assert all(isinstance(value, str) and len(value) >= 6 for value in secrets.values()), secrets
    access = [json.loads(line) for line in captured.lines if json.loads(line)["logger"] == "ecars.access"]
    assert access, "the flow logged nothing: nothing was checked"
    for line in captured.lines:
        texts = [line, *_strings(json.loads(line))]
        for name, value in secrets.items():
            assert not any(value in text for text in texts), f"{name} logged: {line}"


def cookie(client, name) -> str | None:
    morsel = client.cookies.get(name)
    return morsel.value if morsel is not None and morsel.value else None


class Browser:
    """A client that sends forms as a browser does, CSRF token included, and keeps every token and cookie seen."""

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)
        self.seen = set()

    def get(self, url):
        response = self.client.get(url)
        self.seen.update(CSRF_TOKEN.findall(response.content.decode()))
        self._keep_cookies()
        return response

    def submit(self, url, data, *, page=None):
        self.get(page or url)
        token = cookie(self.client, settings.CSRF_COOKIE_NAME)
        response = self.client.post(url, {**data, "csrfmiddlewaretoken": token})
        self._keep_cookies()
        return response

    def _keep_cookies(self):
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            if value := cookie(self.client, name):
                self.seen.add(value)

    def secrets(self) -> dict:
        return {f"token or cookie {i}": value for i, value in enumerate(sorted(self.seen))}


def test_login_and_renewal_by_code(captured):
    user = UserFactory(email="signataire@chu-exemple.fr")
    browser = Browser()
    login = reverse("account_login")

    assert browser.submit(login, {"login": user.email, "password": WRONG_PASSWORD}).status_code == 200
    assert browser.submit(login, {"login": user.email, "password": DEFAULT_PASSWORD}).status_code == 302
    assert browser.get(reverse("contracts:home")).status_code == 200
    forged = "f" * 64
    response = browser.client.post(reverse("account_logout"), {"csrfmiddlewaretoken": forged})
    assert response.status_code == 403  # a forged form: refused, and logged by django.security.csrf
    assert browser.submit(reverse("account_logout"), {}, page=reverse("contracts:home")).status_code == 302

    renewal = Browser()
    assert renewal.submit(reverse("account_reset_password"), {"email": user.email}).status_code == 302
    code = last_code(user.email)
    assert renewal.submit(reverse("account_confirm_password_reset_code"), {"code": code}).status_code == 302
    response = renewal.submit(
        reverse("account_complete_password_reset"), {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert response.status_code == 302
    assert renewal.submit(login, {"login": user.email, "password": GOOD_PASSWORD}).status_code == 302

    assert len(browser.seen) >= 3 and len(renewal.seen) >= 3  # session and CSRF cookies, form tokens
    assert_no_secret(
        captured,
        {
            "password": DEFAULT_PASSWORD,
            "wrong password": WRONG_PASSWORD,
            "new password": GOOD_PASSWORD,
            "renewal code": code,
            "forged CSRF token": forged,
            "e-mail address": user.email,
            **browser.secrets(),
            **{f"renewal's {name}": value for name, value in renewal.secrets().items()},
        },
    )


def test_an_invitation_link(captured, ej, ars_staff, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = invitations.SITE_URL
    newcomer = UserFactory(email="nouvelle.collegue@chu-exemple.fr", password=None)
    newcomer.set_unusable_password()
    newcomer.save(update_fields=["password"])
    MembershipFactory(user=newcomer, ej=ej)
    link = invitations.invite(newcomer, ars_staff, lambda: django_capture_on_commit_callbacks(execute=True))
    token = invitations.token_of(link)
    client = Client()

    response = invitations.accept(client, link)

    assert response.status_code == 302
    assert_no_secret(
        captured,
        {
            "invitation token": token,
            "password": invitations.NEW_PASSWORD,
            "session": cookie(client, settings.SESSION_COOKIE_NAME),
        },
    )


def test_an_answer_an_upload_the_closure_and_the_downloads(captured, ej, member, storage_dir):
    world = World(ej, member)
    client = Client()
    client.force_login(member)
    self_evaluation = world.self_evaluation
    question = reverse("evaluation:question", args=[self_evaluation.public_id, world.text.indicator.code])

    assert client.get(question).status_code == 200
    answer = {
        "value": ANSWER,
        "not_applicable": "",
        "not_applicable_reason": "",
        "comment": COMMENT,
        "version": str(world.text.version),
    }
    assert client.post(question, answer).status_code == 302
    world.text.refresh_from_db()
    assert (world.text.value, world.text.comment) == (ANSWER, COMMENT)
    upload = reverse("evaluation:question_upload", args=[self_evaluation.public_id, world.yes_no.indicator.code])
    response = client.post(
        upload, {"documents": [SimpleUploadedFile("Preuve.pdf", sample("valid.pdf"))], "jeton": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    document = Document.objects.get()
    download = client.get(reverse("documents:download", args=[document.public_id]))
    assert download.status_code == 200
    b"".join(download.streaming_content)
    assert client.post(reverse("evaluation:close", args=[self_evaluation.public_id])).status_code == 302
    receipt = client.get(reverse("evaluation:receipt", args=[self_evaluation.public_id]))
    assert receipt.status_code == 200
    b"".join(receipt.streaming_content)
    assert mail.outbox  # the receipt went out by e-mail: its task ran, its lines are checked too

    assert_no_secret(
        captured,
        {
            "answer": ANSWER,
            "comment": COMMENT,
            "document's storage key": document.file.name,
            "receipt's storage key": ClosureReceipt.objects.get().file.name,
            "session": cookie(client, settings.SESSION_COOKIE_NAME),
        },
    )


def test_contester_and_the_report(captured, ej):
    world = Contradictory(ej)
    contributeur, signataire = Client(), Client()
    contributeur.force_login(world.contributeur)
    signataire.force_login(world.signataire)

    response = contributeur.post(
        question_page(world, "1.a"), {"observation": "1", "text": OBSERVATION, "version": "0"}
    )
    assert response.status_code == 302
    assert Observation.objects.get().text == OBSERVATION
    send = reverse("evaluation:send_observations", args=[world.self_evaluation.public_id])
    assert signataire.post(send).status_code == 302
    report = signataire.get(reverse("evaluation:report_download", args=[world.self_evaluation.public_id, 1]))
    assert report.status_code == 200
    b"".join(report.streaming_content)

    assert_no_secret(
        captured,
        {
            "observation": OBSERVATION,
            "report's storage key": Report.objects.get(version=1).file.name,
            "contributeur's session": cookie(contributeur, settings.SESSION_COOKIE_NAME),
            "signataire's session": cookie(signataire, settings.SESSION_COOKIE_NAME),
        },
    )
