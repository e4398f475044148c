"""The manual's first login, in a real browser, with axe-core and console checks on every screen."""

import io
import re

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from demo.world import DEMO_USER_EMAIL
from tests.e2e.conftest import assert_page_is_healthy, log_in


TEMPORARY_PASSWORD = "Demo-e-CARS-2026!"
NEW_PASSWORD = "Bl3u-Ciel-Vaste!"


@pytest.fixture
def demo_world(transactional_db):
    call_command("seed_demo", password=TEMPORARY_PASSWORD, stdout=io.StringIO())


def fill_new_password(page):
    expect(page.get_by_role("heading", name="Règles du mot de passe")).to_be_visible()
    page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirmer le nouveau mot de passe", exact=True).fill(NEW_PASSWORD)


def test_renewing_by_code_from_the_login_page_as_the_manual_says(page, demo_world):
    mail.outbox.clear()  # the demo's own e-mails (the closed contract's receipt)
    page.goto("/")
    assert_page_is_healthy(page)
    page.get_by_role("link", name="Renouveler le mot de passe").click()

    # Screen 1: the address (mistyped here), sent with « Continuer », as the manual's screen has it.
    expect(page.get_by_role("heading", level=1)).to_have_text("Renouveler le mot de passe")
    expect(page.get_by_role("button", name="Envoyer le code de vérification")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_role("textbox", name="Adresse de messagerie").fill("contact.et1@test.fr")
    page.get_by_role("button", name="Continuer").click()

    # Screen 2: the address, still editable: corrected with « Modifier l'adresse e-mail ».
    address = page.get_by_role("textbox", name="Adresse de messagerie")
    expect(address).to_have_value("contact.et1@test.fr")
    expect(page.get_by_role("button", name="Vérifier le code")).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer un nouveau code")).to_be_visible()
    assert_page_is_healthy(page)
    assert mail.outbox == []
    address.fill(DEMO_USER_EMAIL)
    page.get_by_role("button", name="Modifier l'adresse e-mail").click()

    # The code received by e-mail at the right address.
    expect(page.get_by_role("textbox", name="Adresse de messagerie")).to_have_value(DEMO_USER_EMAIL)
    code = re.search(r"^(\d{6})$", mail.outbox[-1].body, re.MULTILINE).group(1)
    page.get_by_role("textbox", name="Code de vérification").fill(code)
    page.get_by_role("button", name="Vérifier le code").click()
    expect(page.get_by_text("Nous avons vérifié l'adresse e-mail. Vous pouvez continuer maintenant.")).to_be_visible()
    expect(page.get_by_role("textbox", name="Adresse de messagerie")).to_have_value(DEMO_USER_EMAIL)
    expect(page.get_by_role("button", name="Modifier l'adresse e-mail")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_role("link", name="Continuer").click()

    # Screen 3: the new password.
    fill_new_password(page)
    assert_page_is_healthy(page)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe renouvelé")
    assert_page_is_healthy(page)

    page.get_by_role("link", name="Se connecter").click()
    log_in(page, DEMO_USER_EMAIL, NEW_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Gestion des Contrats")
    expect(page.get_by_role("cell", name="380780080 - CHU DE GRENOBLE ALPES")).to_be_visible()
    assert_page_is_healthy(page)


def test_logging_in_with_the_temporary_password_forces_the_renewal(page, demo_world):
    log_in(page, DEMO_USER_EMAIL, TEMPORARY_PASSWORD)
    expect(page).to_have_url("/compte/nouveau-mot-de-passe/")
    assert_page_is_healthy(page)
    page.goto("/compte/")  # every other page leads back to the renewal
    expect(page).to_have_url("/compte/nouveau-mot-de-passe/")

    page.get_by_label("Nouveau mot de passe", exact=True).fill("trop-court")
    page.get_by_label("Confirmer le nouveau mot de passe", exact=True).fill("trop-court")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_text("Le mot de passe doit comporter au moins 12 caractères.")).to_be_visible()
    assert_page_is_healthy(page)

    fill_new_password(page)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gestion des Contrats")
    expect(page.get_by_text("Votre mot de passe a été renouvelé.")).to_be_visible()
    assert_page_is_healthy(page)
