"""The campaign's « Tableau de bord » in a real browser: the ARS agent reaches it from the list of campaigns, the
State design system's chart components (static/vendor/dsfr-chart/) are defined and draw every chart, their tooltip
works without breaking the Content-Security-Policy, the filters are used with the keyboard, and axe finds no serious
or critical violation."""

import re

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import DEFAULT_PASSWORD
from tests.e2e.conftest import assert_page_is_healthy, log_in_agent
from tests.evaluation.test_dashboard import generated_campaign


# Every CSP violation of the page, whatever its kind (reported before the page's own scripts run).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""

CHARTS_DRAWN = """
() => ["bar-chart", "bar-line-chart"].every((name) => customElements.get(name))
    && [...document.querySelectorAll("bar-chart, bar-line-chart")].every((chart) => {
        const canvas = chart.querySelector("canvas");
        if (!canvas || !canvas.width || !canvas.height) return false;
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        return pixels.some((value) => value !== 0);
    })
"""


@pytest.fixture
def world(transactional_db, region, other_region):
    return generated_campaign(region, other_region)


def hover_until_a_tooltip_shows(page, chart):
    """Move the mouse across the chart's canvas until its tooltip is shown (a bar or a point is under it)."""
    chart.scroll_into_view_if_needed()
    box = chart.locator("canvas").bounding_box()
    tooltip = chart.locator(".tooltip")
    for height in (0.6, 0.7, 0.5):
        for step in range(1, 60):
            page.mouse.move(box["x"] + box["width"] * step / 60, box["y"] + box["height"] * height)
            if tooltip.evaluate("element => getComputedStyle(element).opacity") == "1":
                return tooltip
    raise AssertionError("No tooltip shown over the chart.")


def test_the_dashboard_draws_its_charts_and_their_tables(page, world):
    page.add_init_script(RECORD_VIOLATIONS)
    log_in_agent(page, world.ars, DEFAULT_PASSWORD)
    page.goto("/admin/evaluation/campaign/")
    assert_page_is_healthy(page)
    page.get_by_role("link", name="Tableau de bord CAQES 2025").click()
    expect(page.get_by_role("heading", level=1, name="Tableau de bord — CAQES 2025")).to_be_visible()

    page.wait_for_function(CHARTS_DRAWN)
    assert page.locator("bar-chart canvas").count() == 5
    assert page.locator("bar-line-chart canvas").count() == 1
    assert page.evaluate("window.cspViolations") == []
    states = page.get_by_role("table", name="Contrats par état")
    expect(states.get_by_role("row", name="Non ouverte 2")).to_be_visible()
    assert_page_is_healthy(page)

    # The tooltip of the closures' chart: its coloured dots are inline styles the page's policy lets through.
    tooltip = hover_until_a_tooltip_shows(page, page.locator("bar-line-chart"))
    dot = tooltip.locator(".tooltip_dot").first
    assert dot.evaluate("element => getComputedStyle(element).backgroundColor") not in ("", "rgba(0, 0, 0, 0)")
    assert page.evaluate("window.cspViolations") == []
    assert page.console_errors == []

    # The filters, with the keyboard only.
    page.get_by_label("Département").focus()
    page.keyboard.type("34")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Etat")).to_be_focused()
    page.keyboard.type("Clô")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Filtrer")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"departement=34&etat=cloturee"))
    page.wait_for_function(CHARTS_DRAWN)
    expect(page.get_by_text("département 34 — état « Clôturée »")).to_be_visible()
    states = page.get_by_role("table", name="Contrats par état")
    expect(states.get_by_role("row", name="Clôturée 3")).to_be_visible()
    expect(states.get_by_role("row", name="Non ouverte 0")).to_be_visible()
    assert page.evaluate("window.cspViolations") == []
    assert_page_is_healthy(page)


def test_the_dashboard_follows_the_admins_colour_theme(page, world):
    """DSFR's stylesheets and charts take the admin's theme: dark when the system prefers it, light once the admin's
    theme button says so; axe and the policy are checked in both."""
    page.emulate_media(color_scheme="dark")
    page.add_init_script(RECORD_VIOLATIONS)
    log_in_agent(page, world.ars, DEFAULT_PASSWORD)
    page.goto(f"/admin/evaluation/campaign/{world.campaign.pk}/tableau-de-bord/")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.evaluate("document.documentElement.dataset.frTheme") == "dark"
    assert_page_is_healthy(page)
    tooltip = hover_until_a_tooltip_shows(page, page.locator("bar-line-chart"))
    dot = tooltip.locator(".tooltip_dot").first
    assert dot.evaluate("element => getComputedStyle(element).backgroundColor") not in ("", "rgba(0, 0, 0, 0)")

    page.get_by_role("button", name=re.compile("Changer de thème")).first.click()  # auto (dark) → light
    expect(page.locator("html")).to_have_attribute("data-fr-theme", "light")
    page.mouse.move(0, 0)
    assert_page_is_healthy(page)
    assert page.evaluate("window.cspViolations") == []
