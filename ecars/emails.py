"""Outgoing e-mail: rendered from templates, sent by a background task after the commit.

Each message is a template triple under templates/<app>/email/: `<name>_subject.txt`,
`<name>_body.txt` and `<name>_body.html`. Sending happens in `manage.py db_worker`, never in the
request, so a slow or unavailable SMTP server never fails a user's action; the task is enqueued
only once the transaction that decided to send it has committed.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django_tasks import task


@task()
def send_email(*, subject: str, body: str, html_body: str, to: list[str]) -> None:
    message = EmailMultiAlternatives(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    message.attach_alternative(html_body, "text/html")
    message.send()


def send_templated_email(template_prefix: str, *, to: list[str], context: dict) -> None:
    """Render `template_prefix` (e.g. "accounts/email/invitation") and send it once the transaction commits."""
    context = {"SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
    body = render_to_string(f"{template_prefix}_body.txt", context)
    html_body = render_to_string(f"{template_prefix}_body.html", context)
    transaction.on_commit(lambda: send_email.enqueue(subject=subject, body=body, html_body=html_body, to=to))
