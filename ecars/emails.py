"""Outgoing e-mail: rendered from templates, sent by a background task after the commit.

Each message is a template triple under templates/<app>/email/: `<name>_subject.txt`,
`<name>_body.txt` and `<name>_body.html`. Sending happens in `manage.py db_worker`, never in the
request, so a slow or unavailable SMTP server never fails a user's action; the task is enqueued
only once the transaction that decided to send it has committed.

Each recipient gets a message of their own (one task each): addresses given together in `to`
(the signataires of an EJ, its ARS contact…) never appear in each other's headers.

A message that carries a secret (a verification code, an invitation link, a temporary password)
is sealed before it is queued: the task table never holds the secret in clear, only a ciphertext
that the worker opens with a key derived from SECRET_KEY.

Attachments (e.g. the attestation de clôture) travel in the task's arguments, which must be JSON: a
list of {"filename", "content" (base64, sealed too for a sensitive message), "mimetype"}.

When the SMTP server cannot take a message (down, refusing connections, timing out, answering 4xx), the task
queues itself again EMAIL_RETRY_DELAY seconds later (`deliver`), for up to EMAIL_RETRY_HOURS: nothing is lost while
SMTP is down, and a message is sent once, by the try that the server accepted. A message given an `expires_at` (a
verification code) is dropped, not sent, once that moment has passed: a code is no use after it expired.
"""

import base64
import hashlib
import logging
import smtplib
import time
from collections.abc import Callable
from datetime import timedelta

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks import task


logger = logging.getLogger(__name__)


def _sealer() -> MultiFernet:
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"ecars.emails:{key}".encode()).digest())) for key in keys]
    )


def seal(text: str) -> str:
    return _sealer().encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    return _sealer().decrypt(token.encode()).decode()


def _transient(error: OSError) -> bool:
    """Whether a later try may succeed: a 5xx answer (recipient or message refused) will not change."""
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code < 500 for code, _ in error.recipients.values())
    return True  # connection refused or cut, timeout, TLS failure…


def expired(expires_at: float | None) -> bool:
    """Whether a message that must not be sent after `expires_at` (a timestamp) comes too late."""
    if expires_at is not None and time.time() > expires_at:
        logger.info("Courriel expiré pendant son attente dans la file : il n'est pas envoyé.")
        return True
    return False


def deliver(message: EmailMultiAlternatives, *, queued_at: float, retry: Callable) -> bool:
    """Send `message`; True once the SMTP server has taken it.

    If the server cannot take it for now, `retry(run_after)` queues the same task again for `run_after` and False
    is returned; past EMAIL_RETRY_HOURS after `queued_at`, or on a permanent refusal, the error is raised (the task
    fails, for the operators to see).
    """
    try:
        message.send()
    except OSError as error:  # smtplib's errors are OSErrors
        if not _transient(error) or time.time() - queued_at > settings.EMAIL_RETRY_HOURS * 3600:
            raise
        run_after = timezone.now() + timedelta(seconds=settings.EMAIL_RETRY_DELAY)
        logger.warning(
            "Serveur SMTP indisponible (%s) : courriel remis en file pour %s.", type(error).__name__, run_after
        )
        retry(run_after)
        return False
    return True


@task()
def send_email(
    *,
    subject: str,
    body: str,
    html_body: str,
    to: list[str],
    sealed: bool = False,
    attachments: list[dict] | None = None,
    expires_at: float | None = None,
    queued_at: float | None = None,
) -> None:
    if expired(expires_at):
        return
    queued_at = queued_at or time.time()
    arguments = {
        "subject": subject,
        "body": body,
        "html_body": html_body,
        "sealed": sealed,
        "attachments": attachments,
        "expires_at": expires_at,
        "queued_at": queued_at,
    }
    if sealed:
        body, html_body = unseal(body), unseal(html_body) if html_body else ""
    files = [
        (
            attachment["filename"],
            base64.b64decode(unseal(attachment["content"]) if sealed else attachment["content"]),
            attachment["mimetype"],
        )
        for attachment in attachments or ()
    ]
    # Tasks are queued one per recipient; a task queued with several (before that rule) still
    # sends each address its own message.
    addresses = _distinct(to)
    for index, address in enumerate(addresses):
        message = EmailMultiAlternatives(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address]
        )
        if html_body:
            message.attach_alternative(html_body, "text/html")
        for filename, content, mimetype in files:
            message.attach(filename, content, mimetype)
        # A retry is for the addresses not yet served: none gets the message twice.
        remaining = addresses[index:]
        if not deliver(
            message,
            queued_at=queued_at,
            retry=lambda run_after, remaining=remaining: send_email.using(run_after=run_after).enqueue(
                **arguments, to=remaining
            ),
        ):
            return


def _distinct(addresses) -> list[str]:
    """The non-empty addresses, each once (whatever its case), in their order."""
    seen = {}
    for address in addresses:
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def _enqueue_on_commit(
    *,
    subject: str,
    body: str,
    html_body: str,
    to: list[str],
    sensitive: bool,
    attachments: list[tuple[str, bytes, str]] = (),
    expires_at: float | None = None,
) -> None:
    if sensitive:
        body, html_body = seal(body), seal(html_body) if html_body else ""
    encoded = [
        {
            "filename": filename,
            "content": seal(base64.b64encode(content).decode()) if sensitive else base64.b64encode(content).decode(),
            "mimetype": mimetype,
        }
        for filename, content, mimetype in attachments
    ]
    # Messages without attachments are queued exactly as before.
    extra = {"attachments": encoded} if encoded else {}
    if expires_at is not None:
        extra["expires_at"] = expires_at
    # One message per recipient: colleagues written to together never see each other's addresses.
    for address in _distinct(to):
        transaction.on_commit(
            lambda address=address: send_email.enqueue(
                subject=subject, body=body, html_body=html_body, to=[address], sealed=sensitive, **extra
            )
        )


def send_templated_email(
    template_prefix: str,
    *,
    to: list[str],
    context: dict,
    sensitive: bool = False,
    attachments: list[tuple[str, bytes, str]] = (),
) -> None:
    """Render `template_prefix` (e.g. "accounts/email/invitation") and send it once the transaction commits.

    `to`: each address gets its own message.
    `sensitive`: the message carries a secret; it is queued sealed.
    `attachments`: (filename, content, mimetype) triples, e.g. ("attestation.pdf", pdf_bytes, "application/pdf").
    """
    subject, body, html_body = render_templated_email(template_prefix, context)
    _enqueue_on_commit(
        subject=subject, body=body, html_body=html_body, to=to, sensitive=sensitive, attachments=attachments
    )


def render_templated_email(template_prefix: str, context: dict) -> tuple[str, str, str]:
    """The subject, text body and HTML body of `template_prefix` rendered with `context`."""
    context = {"SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
    body = render_to_string(f"{template_prefix}_body.txt", context)
    html_body = render_to_string(f"{template_prefix}_body.html", context)
    return subject, body, html_body


def queue_rendered_emails(messages: list[tuple[str, str, str, list[str]]]) -> None:
    """Send many messages without secret nor attachment, already rendered ((subject, body, HTML body, to)), as
    `send_templated_email` does (after the commit, each address its own message), their tasks queued together in
    one transaction: a batch of a campaign's e-mails costs one commit, not one each."""
    tasks = [
        (subject, body, html_body, address) for subject, body, html_body, to in messages for address in _distinct(to)
    ]
    if not tasks:
        return

    def enqueue():
        with transaction.atomic():
            for subject, body, html_body, address in tasks:
                send_email.enqueue(subject=subject, body=body, html_body=html_body, to=[address], sealed=False)

    transaction.on_commit(enqueue)


def queue_message(
    message: EmailMultiAlternatives, *, sensitive: bool = False, expires_at: float | None = None
) -> None:
    """Send an already rendered message (allauth's) the same way: queued, after the commit; not at all once past
    `expires_at` (a timestamp: a code's end of validity)."""
    html_bodies = [content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/html"]
    _enqueue_on_commit(
        subject=message.subject,
        body=message.body,
        html_body=html_bodies[0] if html_bodies else "",
        to=list(message.to),
        sensitive=sensitive,
        expires_at=expires_at,
    )
