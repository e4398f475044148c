import re

from django.core import mail
from django.urls import reverse


GOOD_PASSWORD = "Nouveau-Mot-2031!"


def last_code(to: str) -> str:
    """The 6-digit code of the last e-mail sent to `to`."""
    message = [m for m in mail.outbox if to in m.to][-1]
    match = re.search(r"^(\d{6})$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def request_code(client, email):
    return client.post(reverse("account_reset_password"), {"email": email})


def submit_code(client, code):
    return client.post(reverse("account_confirm_password_reset_code"), {"code": code})


def set_new_password(client, password=GOOD_PASSWORD, confirmation=None):
    return client.post(
        reverse("account_complete_password_reset"),
        {"password1": password, "password2": confirmation if confirmation is not None else password},
    )


def log_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})
