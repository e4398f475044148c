"""The manual's §2 in a browser: from the EJ list to the contract and its pages, axe-checked."""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import User
from demo.world import DEMO_USER_EMAIL
from tests.e2e.conftest import assert_page_is_healthy, log_in


PASSWORD = "Demo-e-CARS-2026!"


@pytest.fixture
def demo_user(transactional_db):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    User.objects.filter(email=DEMO_USER_EMAIL).update(password_must_change=False)
    return DEMO_USER_EMAIL


def test_from_the_ej_list_to_every_page_of_the_contract(page, demo_user):
    log_in(page, demo_user, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Gestion des Contrats")
    page.get_by_role("searchbox", name="Rechercher une entité juridique").fill("grenoble")
    page.get_by_role("button", name="Rechercher").click()
    assert_page_is_healthy(page)
    page.get_by_role("link", name="Adresse (trier)").click()
    assert_page_is_healthy(page)

    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    expect(page.get_by_role("heading", level=2, name="Liste des contrats")).to_be_visible()
    # « Etat en cours »: the establishment may write.
    expect(page.get_by_role("row", name="CAQES TEST").get_by_role("cell").last).to_have_text("Auto-Evaluation")
    page.get_by_role("button", name="Détails EJ").click()
    expect(page.get_by_text("CHU GRENOBLE ALPES - SITE NORD")).to_be_visible()
    assert_page_is_healthy(page)

    page.get_by_role("link", name="Gérer les membres").click()
    expect(page.get_by_text("contact.et1.etablissement@test.fr").first).to_be_visible()
    assert_page_is_healthy(page)
    page.go_back()

    page.get_by_role("link", name="CAQES TEST").click()
    expect(page.locator(".ecars-state-banner__title")).to_have_text("Auto-Evaluation")
    expect(page.get_by_role("link", name="Saisir les indicateurs")).to_be_visible()
    expect(page.get_by_role("link", name="Clore la saisie")).to_be_visible()
    expect(page.get_by_text("Mourad ABED")).to_be_visible()
    assert_page_is_healthy(page)
    contract_url = page.url

    page.get_by_role("link", name="Accéder à la liste des contacts administratifs").click()
    expect(page.get_by_role("cell", name="DURAND")).to_be_visible()
    assert_page_is_healthy(page)

    page.goto(contract_url)
    page.get_by_role("link", name="Accéder à la liste des établissements du contrat").click()
    expect(page.get_by_role("cell", name="380012658")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_role("link", name="Nombre de lits et SI de CHU GRENOBLE ALPES - SITE NORD").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("380012658")
    assert_page_is_healthy(page)

    page.goto(contract_url)
    page.get_by_role("link", name="Saisir les indicateurs").click()
    expect(page.get_by_text("Pourcentage de remplissage : 0 %")).to_be_visible()
    expect(page.get_by_text("EJ - 380780080 - CHU DE GRENOBLE ALPES")).to_be_visible()
    assert_page_is_healthy(page)
    question = page.get_by_text("2.1.1.a - Mise en place d'un groupe de travail")
    expect(question).to_be_visible()
    page.get_by_role("button", name="Replier le contrat").click()
    expect(question).to_be_hidden()
    page.get_by_role("button", name="Déplier le contrat").click()
    expect(question).to_be_visible()

    page.goto(contract_url)
    page.get_by_role("link", name="Clore la saisie").click()
    expect(page.get_by_role("heading", name="Impossible de clore la saisie")).to_be_visible()
    assert_page_is_healthy(page)
