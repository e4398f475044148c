"""The second half of the campaign in a real browser, as its users live it (issue 12): the ARS agent logs in with
TOTP and evaluates the closed demo contract, the AM agent decides its questions, the ARS consolidates and sends
the report; the establishment downloads it, contests one question and sends its observations; the ARS answers
and sends the final report; the contract shows « Définitive ». axe and the console are checked on every page."""

import datetime
import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from demo.world import AM_USER_EMAIL, ARS_USER_EMAIL, CLOSED_USER_EMAIL, OMEDIT_USER_EMAIL
from evaluation import decisions
from evaluation.enums import SelfEvaluationState, Verdict
from evaluation.models import Decision, IndicatorValue, Report, SelfEvaluation
from tests.e2e import conftest
from tests.e2e.conftest import assert_page_is_healthy, log_in


PASSWORD = "Demo-e-CARS-2026!"
CONTRACT = "CAQES CLINIQUE DU PARC"


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    User.objects.filter(email=CLOSED_USER_EMAIL).update(password_must_change=False)
    return SelfEvaluation.objects.get(contract__name=CONTRACT, state=SelfEvaluationState.CLOTUREE)


def log_in_agent(page, email):
    """Password, then the TOTP code, as an agent does."""
    conftest.log_in_agent(page, User.objects.get(email=email), PASSWORD)


def log_out(page):
    page.context.clear_cookies()


def open_evaluation(page):
    page.goto("/admin/")
    page.get_by_role("link", name="Évaluations", exact=True).first.click()
    assert_page_is_healthy(page)
    row = page.locator("tr", has_text=CONTRACT)
    row.get_by_role("link", name=re.compile("^Évaluer")).click()
    expect(page.get_by_role("heading", name=f"Évaluer — {CONTRACT}")).to_be_visible()
    assert_page_is_healthy(page)


def decide_every_question_shown(page, body, special=None):
    """Follow « Décider la prochaine question » and each redirect to the next question to decide, choosing
    « Atteint », or `special[code]` = (verdict label, motivation)."""
    special = special or {}
    page.get_by_role("link", name=re.compile("^Décider la prochaine question")).click()
    checked = False
    while True:
        heading = page.get_by_role("heading", level=1).inner_text()
        code = heading.removeprefix("Évaluer — ").split(" - ")[0]
        if not checked:
            assert_page_is_healthy(page)
            checked = True
        verdict, motivation = special.get(code, ("Atteint", ""))
        form = page.locator("form", has=page.get_by_role("button", name="Enregistrer la décision"))
        form.get_by_label(verdict, exact=True).check()
        if motivation:
            form.get_by_label("Motivation (visible par l'établissement)").fill(motivation)
        form.get_by_role("button", name="Enregistrer la décision").click()
        if page.get_by_text("Toutes les questions de votre instance sont décidées.").count():
            break
        expect(page.get_by_text(f"{code} : décision enregistrée.")).to_be_visible()
    expect(page.get_by_text(re.compile(rf"Questions décidées par l'instance {body} : (\d+) sur \1"))).to_be_visible()


def test_the_evaluation_the_report_and_the_contradictory_period(page, demo, live_server):
    self_evaluation = demo
    values = {
        value.indicator.code: value
        for value in IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related("indicator")
    }

    # 1. The ARS agent evaluates the closed demo contract; its first decision moves it to « En évaluation ».
    log_in_agent(page, ARS_USER_EMAIL)
    open_evaluation(page)
    decide_every_question_shown(page, "ARS", {"1.1.1.a": ("Non atteint", "Le taux de 72 % reste sous la cible.")})
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.EN_EVALUATION
    log_out(page)

    # 2. The AM agent decides the questions the referential gives the Assurance Maladie.
    log_in_agent(page, AM_USER_EMAIL)
    open_evaluation(page)
    decide_every_question_shown(page, "Assurance Maladie")
    assert Decision.objects.filter(body="am").count() == 2
    log_out(page)
    # The OMEDIT's decisions, recorded through the same service (its pages are those of the AM above).
    omedit = User.objects.get(email=OMEDIT_USER_EMAIL)
    for code in ("3.1.1.a", "3.1.2.b"):
        decisions.record_decision(
            values[code],
            acting_user=omedit,
            verdict=Verdict.ATTEINT,
            motivation="",
            private_note="",
            expected_version=0,
        )

    # 3. The ARS consolidates (prefilled: the bodies agree), enters the amount and sends the report.
    log_in_agent(page, ARS_USER_EMAIL)
    page.goto(reverse("admin:evaluation_evaluation_consolidate", args=[self_evaluation.pk]))
    assert_page_is_healthy(page)
    sections = page.locator("section[id^='q-']")
    for index in range(sections.count()):
        sections.nth(index).get_by_role("button", name="Enregistrer la décision consolidée").click()
        expect(page.get_by_text(re.compile(r": décision consolidée enregistrée\.$"))).to_be_visible()
    expect(page.get_by_text(f"{len(values)} sur {len(values)}")).to_be_visible()
    page.get_by_label("Montant de l'intéressement (€)").fill("12345,50")
    page.get_by_role("button", name="Enregistrer le montant").click()
    expect(page.get_by_text("Montant de l'intéressement enregistré : 12 345,50 €.")).to_be_visible()
    page.get_by_role("button", name="Générer le rapport").click()
    expect(page.get_by_text(re.compile("Rapport généré : version 1, non envoyée"))).to_be_visible()
    deadline = timezone.localdate() + datetime.timedelta(days=30)
    page.get_by_label("Date limite des observations").fill(deadline.isoformat())
    page.get_by_role("button", name="Envoyer le rapport").click()
    expect(page.get_by_text(re.compile(r"Rapport envoyé \(version 2\)"))).to_be_visible()
    assert_page_is_healthy(page)
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.CONTRADICTOIRE
    log_out(page)

    # 4. The establishment downloads the report (the read receipt), contests one question, sends its observations.
    log_in(page, CLOSED_USER_EMAIL, PASSWORD)
    page.get_by_role("link", name=re.compile("CLINIQUE DU PARC")).first.click()
    page.get_by_role("link", name=CONTRACT).click()
    section = page.locator("#rapport-evaluation")
    expect(section.get_by_role("heading", name="Rapport d'évaluation")).to_be_visible()
    assert_page_is_healthy(page)
    with page.expect_download() as download:
        section.get_by_role("link", name=re.compile("^Télécharger le rapport version 2")).click()
    assert download.value.suggested_filename.startswith("rapport-310780234-")
    report = Report.objects.get(self_evaluation=self_evaluation, version=2)
    assert report.read_by == User.objects.get(email=CLOSED_USER_EMAIL)

    contest_and_send(page, self_evaluation)

    # 5. The ARS answers the observation and sends the final report.
    log_out(page)
    log_in_agent(page, ARS_USER_EMAIL)
    answer_and_send_final(page, self_evaluation)

    # 6. The establishment's contract shows « Définitive ».
    log_out(page)
    log_in(page, CLOSED_USER_EMAIL, PASSWORD)
    page.get_by_role("link", name=re.compile("CLINIQUE DU PARC")).first.click()
    # « Etat en cours »: « Consultation », the phase as its detail (issue 11).
    expect(page.locator("tr", has_text=CONTRACT)).to_contain_text("Consultation — définitive")
    page.get_by_role("link", name=CONTRACT).click()
    expect(page.locator("#rapport-evaluation")).to_contain_text("Rapport définitif")
    assert_page_is_healthy(page)
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.DEFINITIVE


def contest_and_send(page, self_evaluation):
    """On 1.1.1.a (« Non atteint »): « Contester », the observation, then « Envoyer mes observations »."""
    page.get_by_role("link", name="Consulter les indicateurs").click()
    page.locator("#q-1-1-1-a").get_by_role("link").click()
    section = page.locator("#evaluation")
    expect(section.get_by_role("heading", name=f"Évaluation {self_evaluation.campaign.year}")).to_be_visible()
    expect(section).to_contain_text("Non atteint")
    expect(section).to_contain_text("Le taux de 72 % reste sous la cible.")
    assert_page_is_healthy(page)
    section.get_by_text("Contester", exact=True).click()
    section.get_by_label("Observations", exact=False).first.fill("Le taux a atteint 96 % au second semestre.")
    section.get_by_role("button", name="Enregistrer l'observation").click()
    expect(page.get_by_text(re.compile("Observation enregistrée"))).to_be_visible()
    # Known, issue 15 open: with « Contester » open, this page is 24 px too wide at 320 px.
    assert_page_is_healthy(page, known_overflow=24)
    page.get_by_role("link", name="Retour au contrat").click()
    page.get_by_role("button", name="Envoyer mes observations").click()
    expect(page.get_by_text("Votre observation a été envoyée.")).to_be_visible()
    assert_page_is_healthy(page)


def answer_and_send_final(page, self_evaluation):
    """The ARS answers the observation (« Décision maintenue »), then sends the final report."""
    page.goto(reverse("admin:evaluation_evaluation_contradictory", args=[self_evaluation.pk]))
    expect(page.get_by_text("Le taux a atteint 96 % au second semestre.")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_label("Réponse à l'observation").fill("Le taux annuel reste de 72 % : la décision est maintenue.")
    page.get_by_role("combobox", name=re.compile("^Décision")).select_option(label="Décision maintenue")
    page.get_by_role("button", name="Enregistrer la réponse").click()
    expect(page.get_by_text(re.compile("réponse enregistrée", re.IGNORECASE))).to_be_visible()
    assert_page_is_healthy(page)
    page.goto(reverse("admin:evaluation_evaluation_consolidate", args=[self_evaluation.pk]))
    page.get_by_role("button", name="Envoyer le rapport définitif").click()
    expect(page.get_by_text(re.compile("Rapport définitif envoyé"))).to_be_visible()
    assert_page_is_healthy(page)


def test_an_evaluator_decides_a_question_with_the_keyboard_alone(page, demo):
    from tests.e2e.test_questions import tab_until  # noqa: PLC0415 - the same walk through the page

    log_in_agent(page, ARS_USER_EMAIL)
    open_evaluation(page)
    page.get_by_role("link", name=re.compile("^Décider la prochaine question")).click()
    heading = page.get_by_role("heading", level=1).inner_text()
    code = heading.removeprefix("Évaluer — ").split(" - ")[0]
    page.goto(page.url.split("#")[0])

    # The admin's skip link first, past the menu, then the verdicts and the button.
    tab_until(page, "element.classList.contains('skip-to-content-link')", most=2)
    page.keyboard.press("Enter")
    tab_until(page, "element.type === 'radio'", most=40)
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Space")  # the first verdict, « Atteint »
    tab_until(page, "(element.value || element.textContent).trim() === 'Enregistrer la décision'", most=40)
    page.keyboard.press("Enter")

    expect(page.get_by_text(f"{code} : décision enregistrée.")).to_be_visible()
    assert Decision.objects.filter(value__indicator__code=code, body="ars").exists()
    assert_page_is_healthy(page)
