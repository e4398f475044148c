"""Browser harness: Playwright driving Debian's chromium against pytest-django's live server.

Every page visited can be checked with axe-core (zero serious or critical violations) and for
console errors (which include Content-Security-Policy and Subresource Integrity refusals).
"""

import os
import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright


CHROMIUM = os.environ.get("ECARS_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium keeps trying to reach Google's hosts,
# which this closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium est introuvable ({CHROMIUM}) : lancez `make browser` (paquet Debian chromium).")
    # Playwright's sync API keeps an asyncio loop in this thread; the tests' own ORM calls are
    # synchronous and safe, but Django cannot tell, so it must be told.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab on the live server, recording console errors in `page.console_errors`."""
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exception: errors.append(str(exception)))
    page.console_errors = errors
    yield page
    context.close()


def assert_page_is_healthy(page):
    """Zero serious or critical axe-core violations and no console error on the current page."""
    results = Axe().run(page)
    blocking = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert blocking == [], f"Accessibilité ({page.url}) :\n" + "\n".join(blocking)
    assert page.console_errors == [], f"Erreurs de console ({page.url}) : {page.console_errors}"


def log_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Adresse de messagerie").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()


def log_in_agent(page, agent, password):
    """An agent's login: the password, then the TOTP code (the key set here, as if the agent had scanned it)."""
    type(agent).objects.filter(pk=agent.pk).update(password_must_change=False)
    secret = generate_totp_secret()
    Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).delete()
    TOTP.activate(agent, secret)
    log_in(page, agent.email, password)
    # No tolerance (MFA_TOTP_TOLERANCE 0): a code typed at the very end of its 30 s would reach the server
    # in the next period, refused. Wait for a fresh period, as a person would for a fresh code.
    remaining = 30 - time.time() % 30
    if remaining < 5:
        time.sleep(remaining + 0.2)
    counters = list(yield_hotp_counters_from_time())
    page.get_by_label("Code de l'application d'authentification ou code de récupération").fill(
        format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
    )
    page.get_by_role("button", name="Se connecter").click()
    expect(page).not_to_have_url(re.compile("/accounts/"))
