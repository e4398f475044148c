"""Browser harness: Playwright driving Debian's chromium against pytest-django's live server.

Every page visited can be checked at 1,280 and 320 px with axe-core (zero violation, whatever its impact), for
sideways scrolling and for console errors (which include Content-Security-Policy and Subresource Integrity refusals).
"""

import collections
import io
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

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
from django.core.management import call_command
from playwright.sync_api import expect, sync_playwright

from accounts.models import User
from demo.world import CLOSED_USER_EMAIL, DEMO_USER_EMAIL


CHROMIUM = os.environ.get("ECARS_CHROMIUM", "/usr/bin/chromium")
# Every page checked leaves its screenshots here (git-ignored), so that anyone can look at every screen after a run.
SCREENSHOTS = Path(os.environ.get("ECARS_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots"))
WIDTHS = (1280, 320)
# The demo world's password in the browser tests (seed_demo --password).
DEMO_PASSWORD = "Demo-e-CARS-2026!"
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

    def console(message):
        # An error page's own status (404, 403) is logged by the browser as « Failed to load resource »: it is the
        # page asked for, not a resource the page failed to load. A message without a source comes from the scripts
        # the test itself runs in the page (axe-core sets inline styles while it measures contrasts).
        if message.type != "error" or message.location.get("url") in (page.url, ""):
            return
        errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exception: errors.append(str(exception)))
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def walk_world(transactional_db):
    """The demo world, its establishments' users with their passwords renewed (test_every_page*.py)."""
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=io.StringIO())
    User.objects.filter(email__in=[DEMO_USER_EMAIL, CLOSED_USER_EMAIL]).update(password_must_change=False)


def axe_violations(page) -> list[str]:
    """axe-core's violations on the current page, of any impact (issue 15: none is tolerated), one line each.

    Without axe's preloading of the stylesheets: it resolves a stylesheet's relative @import against the page's
    address, not the stylesheet's (Django's admin/css/forms.css imports 'widgets.css'), and so asked the server for
    /admin/…/change/widgets.css, a 404 in the console that no browser of a user asks for. Only the rule
    « css-orientation-lock » needs that preloading; tests/ecars/test_static.py checks the stylesheets for it."""
    results = Axe().run(page, options={"preload": False})
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(str(node["target"][0]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
    ]


def page_problems(page, screenshot: str) -> list[str]:
    """The current page at each of WIDTHS (1,280 px, then 320 px: a 400 % zoom): axe-core's violations and sideways
    scrolling, as lines; a full-page screenshot at each width saved as SCREENSHOTS/<screenshot>-<width>.png. The
    page is left at the width it had."""
    problems = []
    size = page.viewport_size or {"width": WIDTHS[0], "height": 720}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": size["height"]})
        # The page's scripts answer the resize at the next frame (static/js/ecars.js: tables that scroll).
        page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        problems += [f"à {width} px : {violation}" for violation in axe_violations(page)]
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            widest = page.evaluate(_WIDEST)
            problems.append(f"à {width} px : la page défile horizontalement de {overflow} px ({widest})")
        page.screenshot(path=SCREENSHOTS / f"{screenshot}-{width}.png", full_page=True)
    page.set_viewport_size(size)
    return problems


# The deepest elements that reach past the window's right edge: what widens the page.
_WIDEST = """Array.from(document.querySelectorAll("body *"))
  .filter(element => element.getBoundingClientRect().right > window.innerWidth + 1
    && !Array.from(element.children).some(child => child.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 3)
  .map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
    + (typeof element.className === "string" && element.className ? "." + element.className.trim().split(" ")[0] : ""))
  .join(", ")"""

_screenshots = collections.Counter()


def assert_page_is_healthy(page):
    """At 1,280 and 320 px: zero axe-core violation, whatever its impact, and no sideways scrolling; no console error;
    the screenshots saved under the test's name (SCREENSHOTS/<test>/<n>-<path>-<width>.png)."""
    test = re.sub(r"[^A-Za-z0-9_]+", "-", os.environ.get("PYTEST_CURRENT_TEST", "test").split(" ")[0].split("::")[-1])
    _screenshots[test] += 1
    if _screenshots[test] == 1:  # the test's screenshots of an earlier run are replaced, not mixed with these
        shutil.rmtree(SCREENSHOTS / test, ignore_errors=True)
    path = re.sub(r"[^a-z0-9]+", "-", urlsplit(page.url).path.lower()).strip("-") or "accueil"
    problems = page_problems(page, f"{test}/{_screenshots[test]:02d}-{path}")
    assert problems == [], f"Accessibilité ({page.url}) :\n" + "\n".join(problems)
    assert page.console_errors == [], f"Erreurs de console ({page.url}) : {page.console_errors}"


def log_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Adresse de messagerie").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()


def log_in_agent(page, agent, password, on_code_page=None):
    """An agent's login: the password, then the TOTP code (the key set here, as if the agent had scanned it).
    `on_code_page(page)`, if given, is called on the code's page before the code is typed."""
    type(agent).objects.filter(pk=agent.pk).update(password_must_change=False)
    secret = generate_totp_secret()
    Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).delete()
    TOTP.activate(agent, secret)
    log_in(page, agent.email, password)
    if on_code_page is not None:
        on_code_page(page)
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


def tab_until(page, predicate: str, *, most: int) -> int:
    """Press Tab until `predicate` (JavaScript on document.activeElement, `element`) holds; the presses it took."""
    for presses in range(1, most + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"(element => {predicate})(document.activeElement)"):
            return presses
    raise AssertionError(f"{predicate} : pas atteint en {most} appuis sur Tab")
