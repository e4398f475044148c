"""« Documents du contrat »: the ARS adds them, everyone with access lists and downloads them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from documents.contract_page import documents_block
from documents.models import Document
from evaluation.models import Attachment
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory
from tests.documents.corpus import HTML_PAGE, sample, stored_files
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import AttachmentFactory, IndicatorValueFactory


PDF = sample("valid.pdf")


@pytest.fixture
def contract(ej):
    return ContractFactory(ej=ej)


def contract_url(contract):
    return reverse("contracts:contract_detail", args=[contract.public_id])


def add(client, contract, *files):
    return client.post(
        reverse("documents:contract_upload", args=[contract.public_id]),
        {"documents": [SimpleUploadedFile(name, content) for name, content in files]},
    )


def test_ars_staff_add_contract_documents_everyone_lists_and_downloads_them(
    client_for, ars_staff, member, contract, storage_dir
):
    agent = client_for(ars_staff)
    page = agent.get(contract_url(contract))
    assertContains(page, "Documents du contrat")
    assertContains(page, "Ajouter document")
    assertContains(page, "20 Mo maximum par fichier")

    response = add(agent, contract, ("CAQES signé.pdf", PDF), ("Avenant n°1.docx", sample("valid.docx")))

    assertRedirects(response, contract_url(contract) + "#documents", fetch_redirect_response=False)
    documents = Document.objects.order_by("original_name")
    assert [document.original_name for document in documents] == ["Avenant n°1.docx", "CAQES signé.pdf"]
    assert all(document.contract == contract and document.ej == contract.ej for document in documents)
    assert not Attachment.objects.exists()
    assert len(stored_files(storage_dir)) == 2
    assert AuditEvent.objects.filter(event_type=EventType.DOCUMENT_UPLOADED, actor=ars_staff).count() == 2
    assertContains(agent.get(contract_url(contract)), "« CAQES signé.pdf » a été ajouté aux documents du contrat.")

    page = client_for(member).get(contract_url(contract))
    assertContains(page, "CAQES signé.pdf")
    assertContains(page, str(ars_staff))
    assertContains(page, "Récupérer tous les documents")
    assertNotContains(page, 'id="documents-fichiers"')
    document = documents.get(original_name="CAQES signé.pdf")
    assertContains(page, reverse("documents:download", args=[document.public_id]))
    download = client_for(member).get(reverse("documents:download", args=[document.public_id]))
    assert b"".join(download.streaming_content) == PDF


def test_ajouter_document_opens_the_chooser_with_the_script_and_works_without_it(
    client_for, ars_staff, contract, storage_dir
):
    """Issue 11, item 7: the form is marked for static/js/documents.js (« Ajouter document » first opens the
    file chooser, the chosen files are then sent); without the script, the server still says what is missing."""
    agent = client_for(ars_staff)
    page = agent.get(contract_url(contract))
    assertContains(page, "data-documents-chooser")
    assertContains(page, '<script src="/static/js/documents.js"></script>', count=1)

    response = agent.post(reverse("documents:contract_upload", args=[contract.public_id]), {})

    assertRedirects(response, contract_url(contract) + "#documents", fetch_redirect_response=False)
    assertContains(agent.get(contract_url(contract)), "Choisissez au moins un fichier à ajouter.")
    assert not Document.objects.exists()


def test_sizes_are_shown_in_mo(client_for, member, contract):
    """The unit of the « 20 Mo maximum » rule, French style (« 1,2 Mo »), never in octets or Ko."""
    DocumentFactory(ej=contract.ej, contract=contract, original_name="Gros.pdf", size=1_234_567)
    DocumentFactory(ej=contract.ej, contract=contract, original_name="Petit.pdf")
    page = client_for(member).get(contract_url(contract))
    assertContains(page, 'Gros.pdf <span class="fr-sr-only">(télécharger, 1,2 Mo)</span>')
    assertContains(page, 'Petit.pdf <span class="fr-sr-only">(télécharger, 0,1 Mo)</span>')
    assertNotContains(page, "octets")


def test_establishments_add_documents_only_under_questions(client_for, member, contract, storage_dir):
    """The manual's rule 3: the contract's upload answers 404 to them, and stores nothing."""
    response = add(client_for(member), contract, ("CAQES.pdf", PDF))
    assert response.status_code == 404
    assert not Document.objects.exists() and stored_files(storage_dir) == []


def test_ars_staff_of_another_region_cannot_add(client_for, other_region, contract, storage_dir):
    outsider = UserFactory(ars_staff=True, region=other_region)
    assert add(client_for(outsider), contract, ("CAQES.pdf", PDF)).status_code == 404
    assert not Document.objects.exists() and stored_files(storage_dir) == []


def test_a_refused_contract_document_says_why(client_for, ars_staff, contract, storage_dir):
    agent = client_for(ars_staff)
    add(agent, contract, ("page.pdf", HTML_PAGE))
    assertContains(agent.get(contract_url(contract)), "« page.pdf » est refusé")
    assert not Document.objects.exists() and stored_files(storage_dir) == []


def test_the_ars_sees_the_macro_flag_on_contract_documents(client_for, ars_staff, member, contract, storage_dir):
    add(client_for(ars_staff), contract, ("Suivi.xlsm", sample("valid.xlsm")))
    assert Document.objects.get().has_macros
    assertContains(client_for(ars_staff).get(contract_url(contract)), "contient des macros")
    assertNotContains(client_for(member).get(contract_url(contract)), "contient des macros")


def test_a_contract_document_waiting_for_its_scan_has_no_link_even_for_the_ars(
    client_for, ars_staff, member, contract, storage_dir, settings
):
    """Issue 9: the agent who added it sees its status, not a link to a page that would refuse it."""
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"
    document = DocumentFactory(
        ej=contract.ej, contract=contract, uploaded_by=ars_staff, original_name="CAQES signé.pdf"
    )
    for user in (ars_staff, member):
        page = client_for(user).get(contract_url(contract))
        assertContains(page, "CAQES signé.pdf")
        assertContains(page, "en attente d'analyse")
        assertContains(page, "Téléchargeable dès que l'antivirus l'aura déclaré sain.")
        # No link (the withdraw form's address starts like the download one).
        assertNotContains(page, f'href="{reverse("documents:download", args=[document.public_id])}"')


def test_the_archive_link_shows_with_question_documents_only_and_not_without_any(client_for, member, contract):
    """« Has any document »: the contract's own, or one listed under a question (asked through
    documents/hooks.py, which `evaluation` answers)."""
    assertNotContains(client_for(member).get(contract_url(contract)), "Récupérer tous les documents")
    AttachmentFactory(
        document__ej=contract.ej, indicator_value=IndicatorValueFactory(self_evaluation__contract=contract)
    )
    page = client_for(member).get(contract_url(contract))
    assertContains(page, "Aucun document pour ce contrat.")
    assertContains(page, "Récupérer tous les documents")


def test_the_block_asks_the_hook_only_without_documents_of_its_own(rf, ars_staff, contract, django_assert_num_queries):
    request = rf.get(contract_url(contract))
    request.user = ars_staff
    with django_assert_num_queries(2):  # its documents (none), then whether a question has one (none)
        block = documents_block(request, contract)
    assert (block.template_name, block.slot) == ("documents/_contract_documents.html", "body")
    assert block.context["documents"] == [] and not block.context["has_any_document"]
    assert block.context["may_add_documents"]

    document = DocumentFactory(ej=contract.ej, contract=contract)
    with django_assert_num_queries(1):
        block = documents_block(request, contract)
    assert block.context["documents"] == [(document, True)] and block.context["has_any_document"]
