"""The whole campaign in a real browser, as its users live it (issues 12 and 15), on the demo's open contract:
the establishment's first login by a code read from a real SMTP server, its contracts, one question of each value
type answered, a document, closing too early, every question filled from the list of those left, the closure and
« Consultation »; then the ARS agent logs in with TOTP and evaluates, the AM agent decides its questions, the ARS
consolidates and sends the report; the establishment downloads it, contests one question and sends its
observations; the ARS answers and sends the final report; the campaign's dashboard counts it; the contract shows
« Définitive ». axe (1,280 and 320 px) and the console are checked on every kind of page on the way; the every-page
walk (test_every_page.py) covers the rest. And an evaluator's decision with the keyboard alone."""

import datetime
import email
import email.policy
import io
import re
from typing import NamedTuple

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from demo.world import AM_USER_EMAIL, ARS_USER_EMAIL, CLOSED_USER_EMAIL, DEMO_USER_EMAIL, OMEDIT_USER_EMAIL
from evaluation import decisions
from evaluation.enums import FilledBy, SelfEvaluationState, ValueType, Verdict
from evaluation.models import Decision, IndicatorValue, Report, SelfEvaluation
from tests.documents.corpus import sample
from tests.e2e import conftest
from tests.e2e.conftest import assert_page_is_healthy, log_in, tab_until


PASSWORD = "Demo-e-CARS-2026!"
NEW_PASSWORD = "Bl3u-Ciel-Vaste!"
CLOSED_CONTRACT = "CAQES CLINIQUE DU PARC"
OPEN_CONTRACT = "CAQES TEST"


@pytest.fixture
def demo(transactional_db):
    """The demo world; its closed contract, ready to evaluate."""
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    User.objects.filter(email=CLOSED_USER_EMAIL).update(password_must_change=False)
    return SelfEvaluation.objects.get(contract__name=CLOSED_CONTRACT, state=SelfEvaluationState.CLOTUREE)


@pytest.fixture
def campaign(transactional_db):
    """The demo world as `make run` gives it (temporary passwords); its open contract's self-evaluation."""
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    return SelfEvaluation.objects.get(contract__name=OPEN_CONTRACT, state=SelfEvaluationState.AUTO_EVALUATION)


def log_in_agent(page, email):
    """Password, then the TOTP code, as an agent does."""
    conftest.log_in_agent(page, User.objects.get(email=email), PASSWORD)


def log_out(page):
    page.context.clear_cookies()


def open_evaluation(page, self_evaluation):
    contract = self_evaluation.contract.name
    page.goto("/admin/")
    page.get_by_role("link", name="Évaluations", exact=True).first.click()
    assert_page_is_healthy(page)
    # The contract's row of this campaign (the contract's earlier campaigns are listed too).
    row = page.locator("tr", has_text=contract).filter(has_text=self_evaluation.campaign.name)
    row.get_by_role("link", name=re.compile("^Évaluer")).click()
    expect(page.get_by_role("heading", name=f"Évaluer — {contract}")).to_be_visible()
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


def test_the_whole_campaign_as_its_users_live_it(page, campaign, live_server, settings, smtp_server):
    self_evaluation = campaign
    # Every e-mail of the journey goes through a real SMTP server (the renewal's code is read from there).
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.hostname, smtp_server.port
    establishment = Establishment(DEMO_USER_EMAIL, NEW_PASSWORD, "380780080 - CHU DE GRENOBLE ALPES", OPEN_CONTRACT)

    # 1. The establishment: first login by « Renouveler le mot de passe », its code read from the SMTP server.
    renew_password_by_code(page, smtp_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Gestion des Contrats")
    assert_page_is_healthy(page)

    # 2. Its contracts, the indicators, one question of each value type answered (one with a document).
    page.get_by_role("link", name=establishment.ej).click()
    assert_page_is_healthy(page)
    page.get_by_role("link", name=OPEN_CONTRACT).click()
    assert_page_is_healthy(page)
    contract_url = page.url
    page.get_by_role("link", name="Saisir les indicateurs").click()
    expect(page.get_by_text("Pourcentage de remplissage : 0 %")).to_be_visible()
    assert_page_is_healthy(page)
    # The questions the establishment answers (the AM fills the national PHEV ones), by code: their value type.
    types = dict(
        IndicatorValue.objects.filter(
            self_evaluation=self_evaluation, indicator__filled_by=FilledBy.ETABLISSEMENT
        ).values_list("indicator__code", "indicator__value_type")
    )
    one_of_each = {}
    for code, value_type in sorted(types.items()):
        one_of_each.setdefault(value_type, code)
    assert set(one_of_each) == set(ValueType)
    for value_type, code in one_of_each.items():
        page.locator(f"#q-{code.replace('.', '-')}").get_by_role("link").click()
        expect(page.get_by_role("heading", name=re.compile(rf"^{re.escape(code)} - "))).to_be_visible()
        assert_page_is_healthy(page)
        answer(page, value_type)
        expect(page.get_by_text("Réponse enregistrée.")).to_be_visible()
        expect(page.locator(f"#q-{code.replace('.', '-')} .ecars-dot")).not_to_have_class(re.compile("rouge"))
    page.locator("#q-2-1-1-a").get_by_role("link").click()
    page.wait_for_load_state("load")
    documents = page.locator("#documents")
    documents.get_by_label("Fichiers à ajouter").set_input_files(
        {"name": "Plan d'actions.pdf", "mimeType": "application/pdf", "buffer": sample("valid.pdf")}
    )
    documents.get_by_role("button", name="Ajouter document").click()
    expect(page.get_by_text("« Plan d'actions.pdf » a été ajouté.")).to_be_visible()
    assert_page_is_healthy(page)

    # 3. Closing too early: refused, with the questions left; each is filled from that list.
    page.goto(contract_url)
    page.get_by_role("link", name="Clore la saisie").click()
    expect(page.get_by_role("heading", name="Impossible de clore la saisie")).to_be_visible()
    assert_page_is_healthy(page)
    close_url = page.url
    missing = page.locator("#contenu ul:not(.fr-btns-group) > li > a[href*='/indicateurs/']")
    left = missing.count()
    assert left == len(types) - len(one_of_each)
    while missing.count():
        missing.first.click()
        code = re.search(r"/indicateurs/([^/]+)/", page.url).group(1)
        answer(page, types[code])
        expect(page.get_by_text("Réponse enregistrée.")).to_be_visible()
        page.goto(close_url)
        assert missing.count() == left - 1, code
        left -= 1

    # 4. Everything filled: the closure, « Consultation », the receipt e-mailed through the SMTP server.
    expect(page.get_by_text("Toutes les questions sont saisies")).to_be_visible()
    assert_page_is_healthy(page)
    page.get_by_role("button", name="Clore la saisie").click()
    expect(page.get_by_text(re.compile("La saisie est close"))).to_be_visible()
    expect(page.locator(".ecars-state-banner__title")).to_have_text("Consultation")
    assert_page_is_healthy(page)
    stored = IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code__in=types)
    assert sorted(stored.exclude(value="").values_list("indicator__code", flat=True)) == sorted(types)
    assert stored.get(indicator__code="1.1.1.a").value == "72"
    receipts = [message for message in received(smtp_server, DEMO_USER_EMAIL) if "Attestation" in message["Subject"]]
    # (A folded subject keeps the space before its second line once unfolded: mail clients show it stripped.)
    assert [message["Subject"].strip() for message in receipts] == [
        "[e-CARS] Attestation de clôture de l'auto-évaluation — CAQES TEST (CHU DE GRENOBLE ALPES)"
    ]
    assert receipts[0].get_body(preferencelist=("html",)) is not None
    log_out(page)

    # 5. The agents evaluate, consolidate and send the report; the establishment contests one question; the ARS
    # answers and sends the final report.
    evaluate_and_send_the_report(page, self_evaluation)
    contest_and_send(page, self_evaluation, establishment)
    log_out(page)
    log_in_agent(page, ARS_USER_EMAIL)
    answer_and_send_final(page, self_evaluation)

    # 6. The campaign's dashboard counts the contract as « Définitive ».
    page.goto("/admin/evaluation/campaign/")
    page.get_by_role("link", name=f"Tableau de bord {self_evaluation.campaign}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tableau de bord")
    expect(
        page.get_by_role("table", name="Contrats par état").get_by_role("row", name=re.compile("^Définitive [1-9]"))
    ).to_be_visible()
    assert_page_is_healthy(page)

    # 7. The establishment's contract shows « Définitive ».
    log_out(page)
    log_in(page, DEMO_USER_EMAIL, NEW_PASSWORD)
    page.get_by_role("link", name=establishment.ej).click()
    # « Etat en cours »: « Consultation », the phase as its detail (issue 11).
    expect(page.locator("tr", has_text=OPEN_CONTRACT)).to_contain_text("Consultation — définitive")
    page.get_by_role("link", name=OPEN_CONTRACT).click()
    expect(page.locator("#rapport-evaluation")).to_contain_text("Rapport définitif")
    assert_page_is_healthy(page)
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.DEFINITIVE


def received(smtp_server, address):
    """The messages the SMTP server received for `address`, parsed."""
    return [
        email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        for envelope in smtp_server.envelopes
        if address in envelope.rcpt_tos
    ]


def renew_password_by_code(page, smtp_server):
    """From the login page: « Renouveler le mot de passe », the code read from the e-mail the SMTP server received,
    the new password, then the login with it."""
    page.goto("/")
    assert_page_is_healthy(page)
    page.get_by_role("link", name="Renouveler le mot de passe").click()
    page.get_by_role("textbox", name="Adresse de messagerie").fill(DEMO_USER_EMAIL)
    page.get_by_role("button", name="Envoyer le code de vérification").click()
    expect(page.get_by_role("button", name="Vérifier le code")).to_be_visible()
    assert_page_is_healthy(page)
    [message] = received(smtp_server, DEMO_USER_EMAIL)
    assert message["Subject"] == "[e-CARS] Votre code de vérification"
    text = message.get_body(preferencelist=("plain",)).get_content()
    code = re.search(r"^(\d{6})\r?$", text, re.MULTILINE).group(1)
    page.get_by_role("textbox", name="Code de vérification").fill(code)
    page.get_by_role("button", name="Vérifier le code").click()
    page.get_by_role("link", name="Continuer").click()
    page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirmer le nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    assert_page_is_healthy(page)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe renouvelé")
    page.get_by_role("link", name="Se connecter").click()
    log_in(page, DEMO_USER_EMAIL, NEW_PASSWORD)


# An answer of each type, as an establishment types it (1.1.1.a, a rate, at 72 %: under its 95 % target).
ANSWERS = {
    ValueType.TAUX: "72",
    ValueType.NOMBRE: "120",
    ValueType.TEXTE: "Analyse pharmaceutique quotidienne dans tous les services.",
    ValueType.DATE: "30/06/2026",
}


def answer(page, value_type):
    """Answer the question page's « Réalisé » by its type, with a comment, and « Enregistrer »."""
    if value_type == ValueType.OUI_NON:
        page.locator("label[for=realise-oui]").click()  # DSFR radios: the label is what one clicks
    elif value_type == ValueType.LISTE:
        page.get_by_label("Réalisé", exact=True).select_option(index=1)
    else:
        page.get_by_label("Réalisé").first.fill(ANSWERS[value_type])
    page.get_by_label(re.compile(r"^Commentaire évalué \d{4}")).fill("Saisi pendant la campagne.")
    page.get_by_role("button", name="Enregistrer", exact=True).click()


class Establishment(NamedTuple):
    """Who logs in for the contract, and the links to its EJ and its contract."""

    email: str
    password: str
    ej: str
    contract: str


def evaluate_and_send_the_report(page, self_evaluation):
    """The ARS agent (TOTP) decides every question (1.1.1.a « Non atteint »), which moves the contract to « En
    évaluation »; the AM decides its own; the OMEDIT's decisions through the service; the ARS consolidates, enters
    the amount, generates and sends the report: « Contradictoire »."""
    values = {
        value.indicator.code: value
        for value in IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related("indicator")
    }
    log_in_agent(page, ARS_USER_EMAIL)
    open_evaluation(page, self_evaluation)
    decide_every_question_shown(page, "ARS", {"1.1.1.a": ("Non atteint", "Le taux de 72 % reste sous la cible.")})
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.EN_EVALUATION
    log_out(page)

    log_in_agent(page, AM_USER_EMAIL)
    open_evaluation(page, self_evaluation)
    decide_every_question_shown(page, "Assurance Maladie")
    assert Decision.objects.filter(body="am", value__self_evaluation=self_evaluation).count() == 2
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


def contest_and_send(page, self_evaluation, establishment):
    """The establishment downloads the report (its read receipt), then on 1.1.1.a (« Non atteint »): « Contester »,
    the observation, then « Envoyer mes observations »."""
    log_in(page, establishment.email, establishment.password)
    page.get_by_role("link", name=establishment.ej).first.click()
    page.get_by_role("link", name=establishment.contract).click()
    section = page.locator("#rapport-evaluation")
    expect(section.get_by_role("heading", name="Rapport d'évaluation")).to_be_visible()
    assert_page_is_healthy(page)
    with page.expect_download() as download:
        section.get_by_role("link", name=re.compile("^Télécharger le rapport version 2")).click()
    finess = self_evaluation.contract.ej.finess
    assert download.value.suggested_filename.startswith(f"rapport-{finess}-")
    report = Report.objects.get(self_evaluation=self_evaluation, version=2)
    assert report.read_by == User.objects.get(email=establishment.email)

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
    assert_page_is_healthy(page)
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
    log_in_agent(page, ARS_USER_EMAIL)
    open_evaluation(page, demo)
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
    # The message takes the focus (static/js/admin.js), so that a screen reader reads it.
    expect(page.locator(".messagelist")).to_be_focused()
    assert Decision.objects.filter(value__indicator__code=code, body="ars").exists()
    assert_page_is_healthy(page)
