"""« Rafraîchir la session »: a warning before the end, and an extension that keeps what was typed."""

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.e2e.conftest import assert_page_is_healthy, log_in


@pytest.fixture
def short_sessions(settings):
    # A 30-second session warned 25 seconds ahead: the warning shows within a few seconds.
    settings.SESSION_COOKIE_AGE = 30
    settings.SESSION_EXPIRY_WARNING = 25


@pytest.mark.django_db(transaction=True)
def test_the_warning_extends_the_session_without_losing_typed_input(page, short_sessions):
    user = UserFactory()
    log_in(page, user.email, DEFAULT_PASSWORD)
    page.goto("/compte/")
    page.get_by_label("Téléphone").fill("04 76 00 00 00")

    banner = page.get_by_role("alert").filter(has_text="Votre session expire dans")
    expect(banner).to_be_visible(timeout=15_000)
    assert_page_is_healthy(page)
    with page.expect_response("**/compte/rafraichir-la-session/") as refresh:
        page.get_by_role("button", name="Prolonger la session").click()
    assert refresh.value.status == 200
    expect(page.get_by_text("Votre session a été prolongée.")).to_be_visible()
    expect(page.get_by_label("Téléphone")).to_have_value("04 76 00 00 00")
    expect(page).to_have_url("/compte/")


@pytest.mark.django_db(transaction=True)
def test_the_menu_entry_extends_the_session_without_reloading(page):
    user = UserFactory()
    log_in(page, user.email, DEFAULT_PASSWORD)
    page.goto("/compte/")
    page.get_by_label("Téléphone").fill("04 76 11 11 11")
    with page.expect_response("**/compte/rafraichir-la-session/") as refresh:
        page.get_by_role("navigation", name="Menu principal").get_by_role(
            "button", name="Rafraîchir la session"
        ).click()
    assert refresh.value.json()["seconds_left"] > 25 * 60
    expect(page.get_by_text("Votre session a été prolongée.")).to_be_visible()
    expect(page.get_by_label("Téléphone")).to_have_value("04 76 11 11 11")
    assert_page_is_healthy(page)
