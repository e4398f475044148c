"""Outgoing e-mail: rendered from templates, sent by a background task after the commit.

Each message is a template triple under templates/<app>/email/: `<name>_subject.txt`,
`<name>_body.txt` and `<name>_body.html`. Sending happens in `manage.py db_worker`, never in the
request, so a slow or unavailable SMTP server never fails a user's action; the task is enqueued
only once the transaction that decided to send it has committed.

A message that carries a secret (a verification code, an invitation link, a temporary password)
is sealed before it is queued: the task table never holds the secret in clear, only a ciphertext
that the worker opens with a key derived from SECRET_KEY.

Attachments (e.g. the attestation de clôture) travel in the task's arguments, which must be JSON: a
list of {"filename", "content" (base64, sealed too for a sensitive message), "mimetype"}.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django_tasks import task


def _sealer() -> MultiFernet:
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"ecars.emails:{key}".encode()).digest())) for key in keys]
    )


def seal(text: str) -> str:
    return _sealer().encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    return _sealer().decrypt(token.encode()).decode()


@task()
def send_email(
    *,
    subject: str,
    body: str,
    html_body: str,
    to: list[str],
    sealed: bool = False,
    attachments: list[dict] | None = None,
) -> None:
    if sealed:
        body, html_body = unseal(body), unseal(html_body) if html_body else ""
    message = EmailMultiAlternatives(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    if html_body:
        message.attach_alternative(html_body, "text/html")
    for attachment in attachments or ():
        content = unseal(attachment["content"]) if sealed else attachment["content"]
        message.attach(attachment["filename"], base64.b64decode(content), attachment["mimetype"])
    message.send()


def _enqueue_on_commit(
    *,
    subject: str,
    body: str,
    html_body: str,
    to: list[str],
    sensitive: bool,
    attachments: list[tuple[str, bytes, str]] = (),
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
    transaction.on_commit(
        lambda: send_email.enqueue(subject=subject, body=body, html_body=html_body, to=to, sealed=sensitive, **extra)
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

    `sensitive`: the message carries a secret; it is queued sealed.
    `attachments`: (filename, content, mimetype) triples, e.g. ("attestation.pdf", pdf_bytes, "application/pdf").
    """
    context = {"SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
    body = render_to_string(f"{template_prefix}_body.txt", context)
    html_body = render_to_string(f"{template_prefix}_body.html", context)
    _enqueue_on_commit(
        subject=subject, body=body, html_body=html_body, to=to, sensitive=sensitive, attachments=attachments
    )


def queue_message(message: EmailMultiAlternatives, *, sensitive: bool = False) -> None:
    """Send an already rendered message (allauth's) the same way: queued, after the commit."""
    html_bodies = [content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/html"]
    _enqueue_on_commit(
        subject=message.subject,
        body=message.body,
        html_body=html_bodies[0] if html_bodies else "",
        to=list(message.to),
        sensitive=sensitive,
    )
