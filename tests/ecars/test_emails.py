"""E-mails are rendered from templates and sent by the tasks worker through SMTP (EMAIL_URL)."""

import email
import email.policy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from ecars.emails import send_templated_email


TEST_TEMPLATES = Path(__file__).parent / "templates"


@pytest.fixture
def test_templates(settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEST_TEMPLATES]}]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_transaction_rolls_back(test_templates):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_templated_email("tests/email/notice", to=["a@exemple.fr"], context={"contract": "CAQES TEST"})
        raise RuntimeError("the change failed")
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_message_has_a_subject_a_text_and_an_html_part(test_templates):
    with transaction.atomic():
        send_templated_email("tests/email/notice", to=["a@exemple.fr"], context={"contract": "CAQES TEST"})
    [message] = mail.outbox
    assert message.subject == "Votre auto-évaluation CAQES TEST"
    assert f"{settings.SITE_URL}/" in message.body
    assert message.alternatives[0].mimetype == "text/html"
    assert "<strong>CAQES TEST</strong>" in message.alternatives[0].content


@pytest.mark.django_db(transaction=True)
def test_the_db_worker_sends_queued_emails_through_the_smtp_server(test_templates, settings, smtp_server):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with transaction.atomic():
        send_templated_email("tests/email/notice", to=["signataire@chu.fr"], context={"contract": "CAQES TEST"})
        send_templated_email(
            "tests/email/secret", to=["signataire@chu.fr"], context={"code": "493817"}, sensitive=True
        )
    assert DBTaskResult.objects.count() == 2
    assert smtp_server.envelopes == []  # queued, not sent during the request
    # A secret never rests in clear in the task table.
    assert not [row for row in DBTaskResult.objects.values_list("args_kwargs", flat=True) if "493817" in str(row)]

    db = connection.settings_dict
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "/nonexistent",
        "DJANGO_SETTINGS_MODULE": "ecars.settings",
        "SECRET_KEY": settings.SECRET_KEY,  # the worker opens sealed messages with it
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "EMAIL_URL": f"smtp://{smtp_server.hostname}:{smtp_server.port}",
    }
    subprocess.run(
        [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "db_worker",
            "--batch",
            "--no-reload",
            "--no-startup-delay",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )

    notice, secret = sorted(smtp_server.envelopes, key=lambda envelope: b"493817" in envelope.content)
    assert b"493817" in secret.content
    envelope = notice
    assert envelope.rcpt_tos == ["signataire@chu.fr"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "Votre auto-évaluation CAQES TEST"
    assert message.get_body(("plain",)).get_content().startswith("Bonjour,")
    assert "<strong>CAQES TEST</strong>" in message.get_body(("html",)).get_content()
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.django_db(transaction=True)
def test_each_recipient_gets_a_message_that_names_only_them(test_templates, settings, smtp_server):
    """Addresses given together (the signataires of an EJ, its ARS contact…) never see each other."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.hostname, smtp_server.port
    recipients = ["signataire@chu.fr", "directrice@chu.fr", "contact@ars.sante.fr"]
    with transaction.atomic():
        send_templated_email(
            "tests/email/secret",
            to=[*recipients, "Signataire@CHU.fr", ""],  # the same address twice, and an empty one
            context={"code": "493817"},
            sensitive=True,
            attachments=[("note.txt", b"piece jointe", "text/plain")],
        )

    assert sorted(envelope.rcpt_tos[0] for envelope in smtp_server.envelopes) == sorted(recipients)
    for envelope in smtp_server.envelopes:
        [recipient] = envelope.rcpt_tos
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert message["To"] == recipient
        assert message["Cc"] is None and message["Bcc"] is None
        content = envelope.content.decode().lower()
        for other in set(recipients) - {recipient}:
            assert other not in content
        assert "493817" in message.get_body(("plain",)).get_content()
        [attachment] = list(message.iter_attachments())
        assert attachment.get_content() == "piece jointe"
