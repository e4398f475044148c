"""The manual's §3 in a browser: open a red question, answer « 1 - OUI », « Enregistrer », see green and 5 %."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import User
from demo.world import DEMO_USER_EMAIL
from evaluation.models import SelfEvaluation
from tests.e2e.conftest import assert_page_is_healthy, log_in, tab_until


PASSWORD = "Demo-e-CARS-2026!"


@pytest.fixture
def demo_user(transactional_db):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    User.objects.filter(email=DEMO_USER_EMAIL).update(password_must_change=False)
    return DEMO_USER_EMAIL


def comment_label() -> str:
    """« Commentaire évalué 2025 »: the label of the comment, with the year the demo's campaign evaluates."""
    current = SelfEvaluation.objects.filter(contract__name="CAQES TEST").latest_first().select_related("campaign")
    return f"Commentaire évalué {current.first().campaign.year}"


def test_answering_a_red_question_turns_it_green_and_shows_five_percent(page, demo_user):
    log_in(page, demo_user, PASSWORD)
    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    page.get_by_role("link", name="CAQES TEST").click()
    page.get_by_role("link", name="Saisir les indicateurs").click()
    expect(page.get_by_text("Pourcentage de remplissage : 0 %")).to_be_visible()

    question = page.locator("#q-2-1-1-a")
    expect(question.locator(".ecars-dot")).to_have_class("ecars-dot ecars-dot--rouge")
    question.get_by_role("link").click()
    expect(page.get_by_role("heading", name="2.1.1.a - Mise en place d'un groupe de travail")).to_be_visible()
    assert_page_is_healthy(page)

    # Last year's comment, read-only under this year's (the demo's earlier year).
    expect(
        page.locator("dt", has_text="Commentaire évalué N-1").locator("xpath=following-sibling::dd")
    ).to_contain_text("Groupe de travail sur les anticoagulants oraux")
    page.locator("label[for=realise-oui]").click()  # DSFR radios: the label is what one clicks
    page.get_by_label(comment_label()).fill("Groupe de travail réuni le 12 mars.")
    page.get_by_role("button", name="Enregistrer").click()

    expect(page.get_by_text("Réponse enregistrée.")).to_be_visible()
    expect(page.get_by_text("Pourcentage de remplissage : 5 %")).to_be_visible()
    expect(page.locator("#q-2-1-1-a .ecars-dot")).to_have_class("ecars-dot ecars-dot--verte")
    expect(page.locator("#q-2-1-1-a").get_by_text("objectif atteint")).to_be_visible()
    expect(page.get_by_label("1 - OUI")).to_be_checked()
    assert_page_is_healthy(page)

    # A bad value keeps what was typed and says why.
    page.locator("#q-1-1-1-a").get_by_role("link").click()
    page.get_by_label("Réalisé (%)").fill("150")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Saisissez un taux entre 0 et 100.")).to_be_visible()
    expect(page.get_by_label("Réalisé (%)")).to_have_value("150")
    assert_page_is_healthy(page)


def test_leaving_a_form_with_unsaved_changes_warns(page, demo_user):
    log_in(page, demo_user, PASSWORD)
    page.goto("/")
    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    page.get_by_role("link", name="CAQES TEST").click()
    page.get_by_role("link", name="Saisir les indicateurs").click()
    page.locator("#q-2-1-1-b").get_by_role("link").click()
    page.get_by_label(comment_label()).fill("Brouillon")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.get_by_role("link", name="Retour au contrat").click()
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    expect(page.get_by_label(comment_label())).to_have_value("Brouillon")


def test_the_other_self_evaluation_pages_are_accessible(page, demo_user):
    log_in(page, demo_user, PASSWORD)
    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    page.get_by_role("link", name="CAQES TEST").click()
    contract_url = page.url

    page.get_by_role("link", name="Demander une prolongation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("prolongation")
    assert_page_is_healthy(page)

    page.goto(contract_url)
    page.get_by_role("link", name="Saisir les indicateurs").click()
    page.get_by_role("link", name="Déposer le classeur").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_page_is_healthy(page)

    page.goto(contract_url)
    page.get_by_role("link", name="Saisir les indicateurs").click()
    page.get_by_role("link", name="Mes questions").click()
    expect(page.get_by_text("Aucune question ne vous est confiée.")).to_be_visible()
    assert_page_is_healthy(page)

    page.goto("/aide/cibles/")
    assert_page_is_healthy(page)


def test_closing_a_complete_self_evaluation(page, demo_user):
    from evaluation.models import IndicatorValue

    IndicatorValue.objects.filter(
        self_evaluation__contract__name="CAQES TEST", indicator__filled_by="etablissement"
    ).update(value="1")
    log_in(page, demo_user, PASSWORD)
    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    page.get_by_role("link", name="CAQES TEST").click()
    page.get_by_role("link", name="Clore la saisie").click()
    expect(page.get_by_text("Toutes les questions sont saisies")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_role("button", name="Clore la saisie").click()
    expect(page.get_by_text("La saisie est close")).to_be_visible()
    expect(page.locator(".ecars-state-banner__title")).to_have_text("Consultation")
    expect(page.get_by_role("link", name="Saisir les indicateurs")).to_have_count(0)
    expect(page.get_by_role("link", name="Consulter les indicateurs")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Attestation de clôture du"))).to_be_visible()
    assert_page_is_healthy(page)
    # The manual: the contract « passe au statut Consultation », in « Etat en cours » of the EJ's contracts too.
    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    row = page.get_by_role("row", name=re.compile("CAQES TEST"))
    expect(row.get_by_role("cell", name="Consultation — clôturée")).to_be_visible()
    assert_page_is_healthy(page)


def test_the_establishment_journey_with_the_keyboard_alone(page, demo_user):
    """Log in, reach a question, answer it, reach its file chooser, then close the self-evaluation: Tab, Enter,
    Space and the arrows only, the focus visible at each step and moved to each message."""
    from evaluation.models import IndicatorValue  # noqa: PLC0415

    # Every other question is already answered: this one is the last before closing.
    IndicatorValue.objects.filter(
        self_evaluation__contract__name="CAQES TEST", indicator__filled_by="etablissement"
    ).exclude(indicator__code="2.1.1.a").update(value="1")
    page.goto("/accounts/login/")
    tab_until(page, "element.name === 'login'", most=20)
    page.keyboard.type(demo_user)
    tab_until(page, "element.name === 'password'", most=3)
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Gestion des Contrats")
    follow_with_keyboard(page, "380780080 - CHU DE GRENOBLE ALPES")
    follow_with_keyboard(page, "CAQES TEST")
    follow_with_keyboard(page, "Saisir les indicateurs")
    expect(page.get_by_text("Pourcentage de remplissage : 95 %")).to_be_visible()
    follow_with_keyboard(page, "2.1.1.a", most=120, exact=False)
    page.goto(page.url.split("#")[0])  # from the top of the page, not from the anchor the tree's link aims at

    # The skip links come first: « Question », then the answer, in a few presses rather than past the whole tree.
    tab_until(page, "element.textContent.trim() === 'Question'", most=3)
    page.keyboard.press("Enter")
    presses = tab_until(page, "element.id === 'realise-oui' || element.name === 'value'", most=15)
    assert presses <= 15
    assert_focus_is_visible(page)
    if page.evaluate("document.activeElement.id") != "realise-oui":
        page.keyboard.press("ArrowDown")  # the radio group: arrows choose, as in any browser
    page.keyboard.press("Space")
    expect(page.locator("#realise-oui")).to_be_checked()
    tab_until(page, "element.tagName === 'BUTTON' && element.textContent.trim() === 'Enregistrer'", most=10)
    page.keyboard.press("Enter")

    # The message takes the focus, so that a screen reader reads it; the dot says « saisie » in words too.
    expect(page.get_by_text("Réponse enregistrée.")).to_be_visible()
    expect(page.locator("[data-messages]")).to_be_focused()
    expect(page.locator("#q-2-1-1-a .fr-sr-only")).to_have_text("Pastille verte, saisie :")
    dot = "getComputedStyle(document.querySelector('#q-2-1-1-a .ecars-dot'), '::before').content"
    assert page.evaluate(dot) == '"✓"'
    # The fill percentage is a progress bar named by its label.
    expect(page.get_by_role("progressbar", name=re.compile("Pourcentage de remplissage"))).to_have_attribute(
        "value", "100"
    )

    # « Documents de l'indicateur »: from the top of the question's page, the skip link then the file chooser.
    follow_with_keyboard(page, "2.1.1.a", most=120, exact=False)
    page.goto(page.url.split("#")[0])
    tab_until(page, 'element.textContent.trim() === "Documents de l\'indicateur"', most=4)
    page.keyboard.press("Enter")
    presses = tab_until(page, "element.type === 'file'", most=6)
    assert presses <= 6
    assert_page_is_healthy(page)

    # Closing: the contract's page, « Clore la saisie », its button; the message takes the focus.
    follow_with_keyboard(page, "Retour au contrat")
    follow_with_keyboard(page, "Clore la saisie")
    tab_until(page, "element.tagName === 'BUTTON' && element.textContent.trim() === 'Clore la saisie'", most=80)
    assert_focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile("La saisie est close"))).to_be_visible()
    expect(page.locator("[data-messages]")).to_be_focused()
    expect(page.locator(".ecars-state-banner__title")).to_have_text("Consultation")


def assert_focus_is_visible(page):
    """DSFR's outline on the focused element."""
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"


def follow_with_keyboard(page, text: str, *, most: int = 60, exact: bool = True):
    """Tab to the link `text` (or a link containing it), its focus visible, and follow it with Enter."""
    test = "element.textContent.trim() === text" if exact else "element.textContent.includes(text)"
    tab_until(page, f"element.tagName === 'A' && ((text) => {test})({text!r})", most=most)
    assert_focus_is_visible(page)
    with page.expect_navigation():
        page.keyboard.press("Enter")
