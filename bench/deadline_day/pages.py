"""What the deadline day's virtual users read from the portal's pages and send back, apart from Locust (which
patches the standard library when imported) so that tests/bench/test_deadline_day.py posts the same forms through
Django's test client.
"""

import base64
import hashlib
import hmac
import random
import re
import struct
import time
import uuid


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# The answer's and the decision's form: its hidden `version` (the agent's page also has `reponse-version`, the form
# of a question its body fills: never one of the world's).
_VERSION = re.compile(r'name="version" value="(\d+)"')
VERDICTS = ("atteint", "partiellement_atteint", "non_atteint", "non_evaluable")
TOTP_PERIOD = 30
_last_counter: dict[str, int] = {}


def csrf(text: str) -> str:
    found = _CSRF.search(text)
    return found.group(1) if found else ""


def version(text: str, default: str) -> str:
    found = _VERSION.search(text)
    return found.group(1) if found else default


def totp_code(secret: str, email: str) -> str:
    """The authenticator's current code (RFC 6238: SHA-1, 6 digits, 30 s, as allauth checks it without tolerance),
    never the same code twice for one account in this process (the portal accepts a code once), nor one about to
    expire: it waits for the next period then."""
    while True:
        now = time.time()
        counter = int(now // TOTP_PERIOD)
        if counter != _last_counter.get(email) and now % TOTP_PERIOD < TOTP_PERIOD - 3:
            break
        time.sleep(TOTP_PERIOD - now % TOTP_PERIOD + 0.1)
    _last_counter[email] = counter
    digest = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def answer(text: str) -> dict:
    """« Enregistrer » of an establishment's question page `text` (a oui/non question): an answer drawn at random
    and a fresh comment (so that every save writes a history row), the page's CSRF token and version."""
    return {
        "csrfmiddlewaretoken": csrf(text),
        "version": version(text, "1"),
        "value": random.choice(["1", "0"]),
        "not_applicable_reason": "",
        "comment": f"Saisie {uuid.uuid4().hex[:8]}",
    }


def decision(text: str) -> dict:
    """« Enregistrer la décision » of an agent's question page `text`: a verdict drawn at random, a motivation
    (required but for « Atteint »), the page's CSRF token and the version it shows (0: no decision yet)."""
    return {
        "csrfmiddlewaretoken": csrf(text),
        "version": version(text, "0"),
        "verdict": random.choice(VERDICTS),
        "motivation": f"Motivation {uuid.uuid4().hex[:8]}",
        "private_note": "",
    }


def decision_recorded(status: int, location: str, question_url: str) -> bool:
    """A recorded decision redirects to the next question to decide, or to « Évaluer »; a refused one back to the
    same question (with its message), a conflict or an invalid form shows the page again (400)."""
    return status == 302 and not location.endswith(question_url)
