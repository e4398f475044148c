"""The manual's §4 in a browser: add a PDF under a question, see it listed, get the ZIP, read a refusal; and
the manual's order, « Ajouter document » first, then the file, under a question and on the contract page."""

import base64
import io
import re
import zipfile

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from contracts.models import Contract
from demo.world import ARS_USER_EMAIL, DEMO_USER_EMAIL
from documents.models import Document
from evaluation.models import SelfEvaluation
from tests.documents.corpus import HTML_PAGE, sample
from tests.e2e.conftest import assert_page_is_healthy, log_in, log_in_agent


PASSWORD = "Demo-e-CARS-2026!"
PDF = sample("valid.pdf")


@pytest.fixture
def demo_user(transactional_db):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    User.objects.filter(email=DEMO_USER_EMAIL).update(password_must_change=False)
    return User.objects.get(email=DEMO_USER_EMAIL)


def intercept_file_choosers(page):
    """Let Playwright catch the file choosers from the start: it turns Chrome's interception on without waiting
    for it, and a chooser opened before that is cancelled by headless Chrome (no « filechooser » event)."""
    page.on("filechooser", lambda chooser: None)


def open_question(page, user, question_id):
    intercept_file_choosers(page)
    log_in(page, user.email, PASSWORD)
    page.get_by_role("link", name="380780080 - CHU DE GRENOBLE ALPES").click()
    page.get_by_role("link", name="CAQES TEST").click()
    page.get_by_role("link", name="Saisir les indicateurs").click()
    page.locator(question_id).get_by_role("link").click()
    # The page's scripts run at the end of the page: wait for them, as a person reading it would.
    page.wait_for_load_state("load")


def test_a_pdf_is_added_listed_and_zipped_and_a_refused_file_says_why(page, demo_user):
    open_question(page, demo_user, "#q-2-1-1-a")
    block = page.locator("#documents")
    expect(block.get_by_role("heading", name="Documents de l'indicateur")).to_be_visible()
    expect(block.get_by_text("20 Mo maximum par fichier")).to_be_visible()
    # An answer being typed is not lost by adding a document.
    page.get_by_label(re.compile(r"^Commentaire évalué \d{4} ")).fill("Compte rendu joint.")

    block.get_by_label("Fichiers à ajouter").set_input_files(
        {"name": "Compte rendu.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    block.get_by_role("button", name="Ajouter document").click()

    expect(page.get_by_text("« Compte rendu.pdf » a été ajouté.")).to_be_visible()
    row = page.locator("#documents tbody tr", has_text="Compte rendu.pdf")
    expect(row).to_contain_text(timezone.localdate().strftime("%d/%m/%Y"))
    expect(row).to_contain_text(str(demo_user))
    expect(page.get_by_label(re.compile(r"^Commentaire évalué \d{4} "))).to_have_value("Compte rendu joint.")
    # The result is where the keyboard is, so that a screen reader reads it.
    expect(page.locator("[data-documents-results]")).to_be_focused()
    assert_page_is_healthy(page)

    with page.expect_download() as download_info:
        page.locator("#documents").get_by_role("link", name="Récupérer tous les documents").click()
    download = download_info.value
    year = SelfEvaluation.objects.filter(contract__name="CAQES TEST").order_by("-campaign__year").first().campaign.year
    # Named after the EJ's FINESS, the contract, the year and the question (issue 11, item 8).
    assert download.suggested_filename == f"documents-380780080-caqes-test-{year}-2.1.1.a.zip"
    with zipfile.ZipFile(download.path()) as archive:
        assert archive.namelist() == ["Compte rendu.pdf"]
        assert archive.read("Compte rendu.pdf") == PDF

    page.locator("#documents").get_by_label("Fichiers à ajouter").set_input_files(
        {"name": "page.pdf", "mimeType": "application/pdf", "buffer": HTML_PAGE}
    )
    page.locator("#documents").get_by_role("button", name="Ajouter document").click()
    expect(page.get_by_text(re.compile(r"« page\.pdf » est refusé : "))).to_be_visible()
    assert Document.objects.filter(original_name="page.pdf").count() == 0

    # The comment typed before is still there, and « Enregistrer » saves it with the answer.
    page.locator("label[for=realise-oui]").click()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Réponse enregistrée.")).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Commentaire évalué \d{4} "))).to_have_value("Compte rendu joint.")


def test_a_file_dropped_on_the_block_is_added(page, demo_user):
    open_question(page, demo_user, "#q-2-1-1-b")
    data_transfer = page.evaluate_handle(
        """(encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "Glissé.pdf", { type: "application/pdf" }));
            return transfer;
        }""",
        base64.b64encode(PDF).decode(),
    )
    page.dispatch_event("[data-documents-upload]", "dragover", {"dataTransfer": data_transfer})
    expect(page.locator("[data-documents-upload]")).to_have_class(re.compile("ecars-dropzone--active"))
    page.dispatch_event("[data-documents-upload]", "drop", {"dataTransfer": data_transfer})

    expect(page.get_by_text("« Glissé.pdf » a été ajouté.")).to_be_visible()
    expect(page.locator("#documents tbody")).to_contain_text("Glissé.pdf")
    assert Document.objects.get(original_name="Glissé.pdf").size == len(PDF)


def test_the_block_works_with_the_keyboard_alone(page, demo_user):
    open_question(page, demo_user, "#q-2-1-1-c")
    chooser = page.locator("#documents").get_by_label("Fichiers à ajouter")
    chooser.set_input_files({"name": "Clavier.pdf", "mimeType": "application/pdf", "buffer": PDF})
    chooser.focus()
    page.keyboard.press("Tab")
    expect(page.locator("#documents").get_by_role("button", name="Ajouter document")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("« Clavier.pdf » a été ajouté.")).to_be_visible()

    # « Retirer », from the keyboard too: the document leaves the list and stays stored.
    withdraw = page.locator("#documents").get_by_role("button", name=re.compile("Retirer"))
    withdraw.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("« Clavier.pdf » a été retiré de la question ; il reste conservé.")).to_be_visible()
    expect(page.locator("#documents tbody")).to_contain_text("Aucun document pour cette question.")
    assert Document.objects.filter(original_name="Clavier.pdf").exists()
    assert_page_is_healthy(page)


def test_ajouter_document_first_opens_the_chooser_and_the_chosen_file_is_added(page, demo_user):
    """Issue 11, item 7: the manual's order, « Ajouter document », choose the file, and it is added, with no
    second press. Its size is read out in Mo."""
    open_question(page, demo_user, "#q-2-1-2-a")
    block = page.locator("#documents")
    with page.expect_file_chooser() as chooser_info:
        block.get_by_role("button", name="Ajouter document").click()
    chooser = chooser_info.value
    assert chooser.is_multiple()
    chooser.set_files({"name": "Ordre du manuel.pdf", "mimeType": "application/pdf", "buffer": PDF})

    expect(page.get_by_text("« Ordre du manuel.pdf » a été ajouté.")).to_be_visible()
    row = page.locator("#documents tbody tr", has_text="Ordre du manuel.pdf")
    expect(row).to_contain_text("(télécharger, 0,1 Mo)")
    expect(page.locator("[data-documents-results]")).to_be_focused()
    assert Document.objects.filter(original_name="Ordre du manuel.pdf").count() == 1
    assert_page_is_healthy(page)


def test_ajouter_document_first_from_the_keyboard(page, demo_user):
    """The button keeps its name and its place; Enter on it opens the chooser, the chosen file is sent."""
    open_question(page, demo_user, "#q-2-1-2-b")
    button = page.locator("#documents").get_by_role("button", name="Ajouter document")
    button.focus()
    with page.expect_file_chooser() as chooser_info:
        page.keyboard.press("Enter")
    chooser_info.value.set_files({"name": "Au clavier.pdf", "mimeType": "application/pdf", "buffer": PDF})

    expect(page.get_by_text("« Au clavier.pdf » a été ajouté.")).to_be_visible()
    expect(page.locator("#documents tbody")).to_contain_text("Au clavier.pdf")
    expect(page.locator("[data-documents-results]")).to_be_focused()
    assert Document.objects.filter(original_name="Au clavier.pdf").count() == 1
    assert_page_is_healthy(page)


def test_ajouter_document_first_on_the_contract_page(page, demo_user):
    """The same order in « Documents du contrat », which an ARS agent fills (password, then TOTP code)."""
    intercept_file_choosers(page)
    log_in_agent(page, User.objects.get(email=ARS_USER_EMAIL), PASSWORD)
    contract = Contract.objects.get(name="CAQES TEST", ej__finess="380780080")
    page.goto(f"/contrats/{contract.public_id}/")
    section = page.locator("#documents")
    expect(section.get_by_text("20 Mo maximum par fichier")).to_be_visible()

    with page.expect_file_chooser() as chooser_info:
        section.get_by_role("button", name="Ajouter document").click()
    chooser_info.value.set_files({"name": "Avenant signé.pdf", "mimeType": "application/pdf", "buffer": PDF})

    expect(page.get_by_text("« Avenant signé.pdf » a été ajouté aux documents du contrat.")).to_be_visible()
    row = page.locator("#documents tbody tr", has_text="Avenant signé.pdf")
    expect(row).to_contain_text("(télécharger, 0,1 Mo)")
    assert Document.objects.get(original_name="Avenant signé.pdf").contract == contract
    assert_page_is_healthy(page)
