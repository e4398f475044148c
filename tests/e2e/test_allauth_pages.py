"""allauth's pages in a real browser: DSFR layout, French, zero serious axe-core violation, no console error.

An ordinary establishment user (no password to renew, no admin rights) walks through the password
change (with errors, then the rate limit's 429 page), the reauthentication, the two-factor settings
with the TOTP activation, its recovery codes and the code asked at the next login, and the logout
confirmation.
"""

import re

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core.cache import cache
from playwright.sync_api import expect

from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.e2e.conftest import assert_page_is_healthy, log_in


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth counts attempts in the cache, which the live server shares with the tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user():
    return UserFactory(password_must_change=False)


@pytest.fixture
def logged_in_page(page, user):
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page).to_have_url("/")
    return page


def heading(page):
    return page.get_by_role("heading", level=1)


def submit_wrong_password_change(page):
    page.get_by_label("Mot de passe actuel", exact=True).fill("pas-le-bon-mot-de-passe")
    page.get_by_label("Nouveau mot de passe", exact=True).fill("Un-nouveau-mot-de-passe-9!")
    page.get_by_label("Confirmer le nouveau mot de passe", exact=True).fill("Un-nouveau-mot-de-passe-9!")
    page.get_by_role("button", name="Modifier mon mot de passe").click()


@pytest.mark.django_db(transaction=True)
def test_password_change_errors_and_rate_limit(logged_in_page):
    page = logged_in_page

    page.goto("/accounts/password/change/")
    expect(heading(page)).to_have_text("Modifier mon mot de passe")
    expect(page.get_by_text("Le mot de passe doit comporter entre 12 et 64 caractères")).to_be_visible()
    # The DSFR stylesheet really applied (an unstyled page would also pass axe).
    assert page.eval_on_selector("header", "el => getComputedStyle(el).getPropertyValue('--text-default-grey')")
    assert_page_is_healthy(page)

    # The DSFR password component's « Afficher » works (dsfr.js, allowed by the CSP).
    current = page.get_by_label("Mot de passe actuel", exact=True)
    expect(current).to_have_attribute("type", "password")
    page.locator("#id_oldpassword-groupe").get_by_text("Afficher").click()
    expect(current).to_have_attribute("type", "text")

    submit_wrong_password_change(page)
    expect(heading(page)).to_have_text("Modifier mon mot de passe")
    error = page.locator("#id_oldpassword_error .fr-message--error")
    expect(error).to_be_visible()
    expect(page.get_by_label("Mot de passe actuel", exact=True)).to_have_attribute(
        "aria-describedby", "id_oldpassword_error"
    )
    assert_page_is_healthy(page)

    # ACCOUNT_RATE_LIMITS["change_password"] allows 5 a minute: the next ones get the 429 page.
    for _ in range(5):
        if heading(page).inner_text() == "Trop de tentatives":
            break
        submit_wrong_password_change(page)
    expect(heading(page)).to_have_text("Trop de tentatives")
    expect(page).to_have_title(re.compile("^Trop de tentatives"))
    expect(page.get_by_text("Patientez quelques minutes avant de réessayer.")).to_be_visible()
    expect(page.get_by_role("link", name="Renouveler le mot de passe")).to_have_attribute(
        "href", "/accounts/password/reset/"
    )
    # Chromium logs the document's own 429 status as a console error: the page fixture leaves it out.
    assert page.console_errors == []
    assert_page_is_healthy(page)


@pytest.mark.django_db(transaction=True)
def test_reauthentication_and_totp_activation(logged_in_page, user):
    page = logged_in_page

    page.goto("/accounts/reauthenticate/?next=/accounts/2fa/")
    expect(heading(page)).to_have_text("Confirmer votre identité")
    assert_page_is_healthy(page)
    page.get_by_label("Mot de passe", exact=True).fill("pas-le-bon")
    page.get_by_role("button", name="Confirmer").click()
    expect(page.locator("#id_password_error .fr-message--error")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_label("Mot de passe", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Confirmer").click()

    expect(page).to_have_url("/accounts/2fa/")
    expect(heading(page)).to_have_text("Double authentification")
    expect(page.get_by_text("Non activée")).to_be_visible()
    assert_page_is_healthy(page)

    page.get_by_role("link", name="Activer").click()
    expect(heading(page)).to_have_text("Activer l'application d'authentification")
    qr_code = page.get_by_role("img", name="QR code à scanner avec votre application d'authentification")
    expect(qr_code).to_be_visible()
    # The SVG data URI really loaded (CSP img-src data:).
    assert qr_code.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = page.locator("#cle-secrete code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    code_input = page.get_by_label("Code de l'application d'authentification")
    expect(code_input).to_have_attribute("autocomplete", "one-time-code")
    assert_page_is_healthy(page)

    code_input.fill("000000")
    page.get_by_role("button", name="Activer").click()
    expect(page.locator("#id_code_error .fr-message--error")).to_be_visible()
    assert_page_is_healthy(page)

    counters = list(yield_hotp_counters_from_time())
    page.get_by_label("Code de l'application d'authentification").fill(
        format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
    )
    page.get_by_role("button", name="Activer").click()

    expect(page).to_have_url("/accounts/2fa/recovery-codes/")
    expect(heading(page)).to_have_text("Codes de récupération")
    codes = page.get_by_label("Codes de récupération non utilisés")
    expect(codes).to_be_visible()
    assert len(codes.input_value().split()) == 10
    assert_page_is_healthy(page)
    # allauth's script (our static files only) warns before leaving until this box is ticked.
    page.get_by_text("J'ai conservé mes codes de récupération en lieu sûr").click()

    page.goto("/accounts/2fa/")
    expect(page.get_by_text("Activée", exact=True)).to_be_visible()
    expect(page.get_by_text("Il vous reste 10 codes de récupération sur 10.")).to_be_visible()
    assert_page_is_healthy(page)

    page.get_by_role("link", name="Désactiver").click()
    expect(heading(page)).to_have_text("Désactiver l'application d'authentification")
    assert_page_is_healthy(page)

    # The next login asks for the code.
    page.get_by_role("banner").get_by_role("button", name="Se déconnecter").click()
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page).to_have_url("/accounts/2fa/authenticate/")
    expect(heading(page)).to_have_text("Double authentification")
    assert_page_is_healthy(page)
    page.get_by_label("Code de l'application d'authentification ou code de récupération").fill("000000")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#id_code_error .fr-message--error")).to_be_visible()
    assert_page_is_healthy(page)


@pytest.mark.django_db(transaction=True)
def test_logout_confirmation(logged_in_page):
    page = logged_in_page

    page.goto("/accounts/logout/")
    expect(heading(page)).to_have_text("Se déconnecter")
    expect(page.get_by_text("Voulez-vous vraiment vous déconnecter d'e-CARS ?")).to_be_visible()
    assert_page_is_healthy(page)

    page.get_by_role("main").get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
