import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import User
from demo.world import DEMO_USER_EMAIL
from tests.e2e.conftest import assert_page_is_healthy, log_in


PASSWORD = "Demo-e-CARS-2026!"


@pytest.mark.django_db(transaction=True)
def test_the_demo_user_logs_in_and_sees_the_home_page(page):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    # As after the first-login renewal (tests/e2e/test_first_login.py walks through it).
    User.objects.filter(email=DEMO_USER_EMAIL).update(password_must_change=False)

    page.goto("/")
    expect(page).to_have_url("/accounts/login/?next=/")
    expect(page.get_by_text("Connectez-vous avec votre adresse de messagerie")).to_be_visible()
    assert_page_is_healthy(page)

    log_in(page, DEMO_USER_EMAIL, PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text("Gestion des Contrats")
    expect(page.get_by_role("cell", name="380780080 - CHU DE GRENOBLE ALPES")).to_be_visible()
    expect(page.get_by_role("cell", name="38043 GRENOBLE")).to_be_visible()
    expect(page.get_by_role("cell", name="0476767575")).to_be_visible()
    navigation = page.get_by_role("navigation", name="Menu principal")
    for entry in ("Accueil", "Mon compte", "Rafraîchir la session"):
        expect(navigation.get_by_text(entry)).to_be_visible()
    # The DSFR stylesheet really applied (an unstyled page would also pass axe).
    assert page.eval_on_selector("header", "el => getComputedStyle(el).getPropertyValue('--text-default-grey')")
    assert_page_is_healthy(page)
