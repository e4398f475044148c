"""« Documents de l'indicateur » (MANUAL.md §4, rules 3 and 4): adding, refusing, joining, withdrawing.

The files go through documents' upload protocol (documents.services); the question's rules are
evaluation's (evaluation.attachments).
"""

import gc
import hashlib
import io
import os
import re
import threading
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from documents import services as document_services
from documents.enums import ScanStatus
from documents.models import Document
from documents.upload_handlers import SizeCappedTemporaryFileUploadHandler
from documents.validation import MAX_SIZE, UploadRefused, validate_upload
from evaluation import attachments
from evaluation.enums import SelfEvaluationState
from evaluation.models import Attachment
from tests.conftest import Client
from tests.contracts.factories import ContractFactory, MembershipFactory
from tests.documents import conftest as documents_conftest
from tests.documents.corpus import (
    HTML_PAGE,
    SVG,
    VALID,
    docx_bomb,
    lying_zip,
    png_html_polyglot,
    portable_executable,
    sample,
    stored_files,
    zip_bomb,
    zip_holding,
)
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import (
    AttachmentFactory,
    CampaignFactory,
    IndicatorValueFactory,
    SelfEvaluationFactory,
)


PDF = sample("valid.pdf")

# The private storage folder of the documents' tests (tests/documents/conftest.py), visible here.
storage_dir = documents_conftest.storage_dir


@pytest.fixture
def contract(ej):
    return ContractFactory(ej=ej)


@pytest.fixture
def value(contract):
    """A question of the contract's self-evaluation, open today."""
    return IndicatorValueFactory(self_evaluation=SelfEvaluationFactory(contract=contract))


@pytest.fixture
def contributor(ej):
    return MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user


def page_url(value):
    return reverse("evaluation:question", args=[value.self_evaluation.public_id, value.indicator.code])


def upload_url(value):
    return reverse("evaluation:question_upload", args=[value.self_evaluation.public_id, value.indicator.code])


def upload(client, value, *files, token=None, **headers):
    data = {"documents": [SimpleUploadedFile(name, content) for name, content in files]}
    if token:
        data["jeton"] = str(token)
    return client.post(upload_url(value), data, headers=headers)


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


# The block on the question page


def test_the_block_sits_just_above_enregistrer_with_the_manuals_words(client_for, member, value):
    response = client_for(member).get(page_url(value))
    html = response.content.decode()
    for words in (
        "Documents de l'indicateur",
        "Ajouter document",
        "Formats acceptés : txt, xls, xlsx, xlm, xlsm, doc, docx, pdf, ppt, pptx, zip, jpg, jpeg, tiff, gif, odt, "
        "odp, ods, odf, dot, dotx. 20 Mo maximum par fichier.",
        '<th scope="col">Document</th>',
        '<th scope="col">Date de modification</th>',
        '<th scope="col">Auteur de la modification</th>',
        "Aucun document pour cette question.",
    ):
        assert words in html, words
    assert html.index("Documents de l'indicateur") < html.index('form="formulaire-question">Enregistrer')
    # The file chooser: several files, the formats the browser should offer, and its hint read out.
    assert re.search(r'<input class="fr-upload" type="file" id="documents-fichiers" name="documents" multiple', html)
    assertContains(response, 'accept=".txt,.xls,.xlsx,.xlm,.xlsm,.doc,.docx,.pdf,')
    assertContains(response, 'aria-describedby="documents-formats"')


@pytest.mark.parametrize("extension", sorted(VALID))
def test_a_valid_file_of_each_format_is_added_and_listed(client_for, member, value, storage_dir, extension):
    file_name, mime_type, has_macros = VALID[extension]
    content = sample(file_name)
    client = client_for(member)

    response = upload(client, value, (f"Pièce justificative.{extension.upper()}", content))

    assertRedirects(response, page_url(value) + "#documents", fetch_redirect_response=False)
    document = Document.objects.get()
    assert document.original_name == f"Pièce justificative.{extension.upper()}"
    assert document.ej == value.self_evaluation.contract.ej and document.contract is None
    assert (document.size, document.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert (document.mime_type, document.has_macros) == (mime_type, has_macros)
    assert document.uploaded_by == member and document.scan_status == ScanStatus.EN_ATTENTE
    # A random key, never the user's name; the bytes stored are those sent.
    assert re.fullmatch(r"documents/[0-9a-f-]{36}", document.file.name)
    assert stored_files(storage_dir) == [document.file.name]
    assert (storage_dir / document.file.name).read_bytes() == content
    attachment = Attachment.objects.get()
    assert (attachment.document, attachment.indicator_value, attachment.attached_by) == (document, value, member)
    event = AuditEvent.objects.get(event_type=EventType.DOCUMENT_UPLOADED)
    assert event.actor == member and event.data["sha256"] == document.sha256 and event.data["code"]

    page = client.get(page_url(value))
    assertContains(page, f"« Pièce justificative.{extension.upper()} » a été ajouté.")
    assertContains(page, reverse("documents:download", args=[document.public_id]))
    assertContains(page, attachment.attached_at.astimezone().strftime("%d/%m/%Y"))
    assertContains(page, str(member))


REFUSED = [
    pytest.param("rapport.pdf", portable_executable(), "son contenu est un programme exécutable", id="exe-as-pdf"),
    pytest.param("notes.txt", HTML_PAGE, "son contenu est une page web (HTML) ou un script", id="html-as-txt"),
    pytest.param("photo.jpg", png_html_polyglot(), "« photo.jpg » est refusé", id="png-html-polyglot-as-jpg"),
    pytest.param("bombe.zip", zip_bomb(), "« bombe ZIP »", id="zip-bomb"),
    pytest.param("rapport.docx", docx_bomb(), "le document est anormalement compressé", id="docx-bomb"),
    pytest.param("annexes.zip", lying_zip(), "la taille annoncée de « donnees.csv »", id="zip-lying-sizes"),
    pytest.param(
        "annexes.zip",
        zip_holding("setup.exe", portable_executable()),
        "l&#x27;archive contient un programme ou un script (« setup.exe »)",
        id="zip-holding-setup-exe",
    ),
    pytest.param("a" * 296 + ".pdf", PDF, "le nom est trop long", id="300-characters"),
    pytest.param("rapport", PDF, "le nom n&#x27;a pas d&#x27;extension", id="no-extension"),
    pytest.param("schema.svg", SVG, "le format .svg n&#x27;est pas accepté", id="svg"),
    pytest.param("page.html", HTML_PAGE, "le format .html n&#x27;est pas accepté", id="html"),
    pytest.param("report.pdf.exe", portable_executable(), "le format .exe n&#x27;est pas accepté", id="pdf-exe"),
]


@pytest.mark.parametrize(("name", "content", "reason"), REFUSED)
def test_a_refused_file_says_why_and_nothing_is_stored(client_for, member, value, storage_dir, name, content, reason):
    client = client_for(member)

    response = upload(client, value, (name, content))

    assertRedirects(response, page_url(value) + "#documents", fetch_redirect_response=False)
    page = client.get(page_url(value))
    assertContains(page, "est refusé")
    assertContains(page, reason)
    assert not Document.objects.exists() and not Attachment.objects.exists()
    assert stored_files(storage_dir) == []
    event = AuditEvent.objects.get(event_type=EventType.DOCUMENT_REJECTED)
    assert event.actor == member and "est refusé" in event.data["reason"]


class RawFile(io.BytesIO):
    """A file object whose name is passed as is: Django's UploadedFile would keep its last component only."""

    def __init__(self, name, data):
        super().__init__(data)
        self.name, self.size = name, len(data)


def test_a_name_with_dot_dot_slash_is_refused_and_nothing_is_stored(member, value, storage_dir):
    with pytest.raises(UploadRefused) as refused:
        attachments.upload_to_question(RawFile("../../etc/rapport.pdf", PDF), value=value, acting_user=member)
    assert (
        str(refused.value) == "« ../../etc/rapport.pdf » est refusé : le nom contient un chemin de dossier (« .. »)."
    )
    assert not Document.objects.exists() and stored_files(storage_dir) == []
    assert AuditEvent.objects.filter(event_type=EventType.DOCUMENT_REJECTED).count() == 1


def test_a_path_sent_by_a_browser_never_reaches_the_storage(client_for, member, value, storage_dir):
    """Django keeps only the last component of a multipart file name, before any code of ours runs."""
    upload(client_for(member), value, ("../../etc/rapport.pdf", PDF))
    document = Document.objects.get()
    assert document.original_name == "rapport.pdf"
    assert stored_files(storage_dir) == [document.file.name]


def test_20_mo_and_one_byte_is_refused_and_20_mo_accepted(client_for, member, value, storage_dir):
    client = client_for(member)
    padding = bytes(MAX_SIZE - len(PDF))
    exactly = PDF[:-6] + padding + PDF[-6:]  # « %%EOF » stays within the last kilobyte
    assert len(exactly) == MAX_SIZE

    upload(client, value, ("trop-gros.pdf", exactly + b"\n"))
    page = client.get(page_url(value))
    assertContains(page, "« trop-gros.pdf » est refusé : il fait 20,1 Mo (20 Mo maximum par fichier).")
    assert stored_files(storage_dir) == [] and not Document.objects.exists()

    upload(client, value, ("juste.pdf", exactly))
    assert Document.objects.get().size == MAX_SIZE


def test_uploads_are_parsed_by_chunks_of_one_mebibyte(rf, settings):
    """The multipart parser reads by the smallest chunk of the request's handlers: each reads 1 MiB, so that a
    20 Mo upload is 20 passes through the parser, not 320 (bench/documents.py)."""
    content = sample("valid.pdf")
    request = rf.post("/", data={"documents": SimpleUploadedFile("piece.pdf", content)})
    assert [handler.chunk_size for handler in request.upload_handlers] == [1024 * 1024] * len(
        settings.FILE_UPLOAD_HANDLERS
    )
    assert request.FILES["documents"].read() == content


def spool(name: str, chunks):
    """The file SizeCappedTemporaryFileUploadHandler spools from `chunks`, received one after the other."""
    handler = SizeCappedTemporaryFileUploadHandler()
    handler.new_file("documents", name, "application/pdf", None)
    received = 0
    for chunk in chunks:
        handler.receive_data_chunk(chunk, received)
        received += len(chunk)
    return handler.file_complete(received)


def test_a_huge_upload_is_not_written_beyond_the_limit(tmp_path, settings):
    """The upload handler keeps at most 20 Mo + 1 byte on disk, and reports the size received."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    chunk = bytes(1024 * 1024)
    uploaded = spool("enorme.pdf", [chunk] * 30)
    try:
        assert uploaded.size == 30 * len(chunk)
        assert [path.stat().st_size for path in tmp_path.iterdir()] == [MAX_SIZE + 1]
    finally:
        uploaded.close()


def test_a_spooled_upload_is_hashed_as_it_arrives_and_validation_trusts_that_digest(tmp_path, settings):
    """The handler hashes the chunks it keeps in a thread while the body is read; validation reads only the file's
    ends for it (a PDF), and finds the digest, the size and the « %%EOF » of the whole file."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    content = PDF[:-6] + os.urandom(3 * 1024 * 1024) + PDF[-6:]
    mib = 1024 * 1024
    uploaded = spool("rapport.pdf", [content[start : start + mib] for start in range(0, len(content), mib)])
    try:
        assert uploaded.received_sha256 == hashlib.sha256(content).hexdigest()
        validated = validate_upload(uploaded)
        assert (validated.sha256, validated.size) == (hashlib.sha256(content).hexdigest(), len(content))
        assert uploaded.read() == content  # left rewound for storage
    finally:
        uploaded.close()


def test_a_file_too_large_has_no_received_digest_and_is_refused(tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    uploaded = spool("enorme.pdf", [bytes(1024 * 1024)] * 21)
    try:
        assert not hasattr(uploaded, "received_sha256")
        with pytest.raises(UploadRefused, match="20 Mo"):
            validate_upload(uploaded)
    finally:
        uploaded.close()


def test_the_hashing_thread_of_an_interrupted_upload_stops(tmp_path, settings):
    """An upload cut half-way (the client gone) never asks for its digest: its thread ends with the request."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    before = threading.active_count()
    handler = SizeCappedTemporaryFileUploadHandler()
    handler.new_file("documents", "coupe.pdf", "application/pdf", None)
    handler.receive_data_chunk(bytes(1024), 0)
    assert threading.active_count() == before + 1
    handler.file.close()
    del handler
    gc.collect()
    for _ in range(100):
        if threading.active_count() == before:
            break
        time.sleep(0.01)
    assert threading.active_count() == before


def test_two_uploads_with_the_same_name_are_kept_apart(client_for, member, value, storage_dir):
    client = client_for(member)
    first, second = PDF, PDF.replace(b"%%EOF", b"%%EOF\n%%EOF")
    upload(client, value, ("rapport.pdf", first))
    upload(client, value, ("rapport.pdf", second))

    documents = list(Document.objects.order_by("uploaded_at"))
    assert [document.original_name for document in documents] == ["rapport.pdf", "rapport.pdf"]
    assert documents[0].file.name != documents[1].file.name
    assert len(stored_files(storage_dir)) == 2
    assert [(storage_dir / document.file.name).read_bytes() for document in documents] == [first, second]
    assert client.get(page_url(value)).content.count(b">rapport.pdf <span") == 2


def test_several_files_at_once_each_get_their_answer(client_for, member, value, storage_dir):
    client = client_for(member)
    upload(client, value, ("bilan.pdf", PDF), ("page.html", HTML_PAGE), ("tableau.xlsx", sample("valid.xlsx")))

    assert sorted(Document.objects.values_list("original_name", flat=True)) == ["bilan.pdf", "tableau.xlsx"]
    page = client.get(page_url(value))
    assertContains(page, "« bilan.pdf » a été ajouté.")
    assertContains(page, "« tableau.xlsx » a été ajouté.")
    assertContains(page, "« page.html » est refusé")


def test_a_replayed_submission_adds_nothing_twice(client_for, member, value, storage_dir):
    """A double click or a retry after a cut sends the same form again: one document, one stored copy."""
    client = client_for(member)
    token = uuid.uuid4()
    upload(client, value, ("bilan.pdf", PDF), token=token)
    upload(client, value, ("bilan.pdf", PDF), token=token)

    assert Document.objects.count() == 1 and Attachment.objects.count() == 1
    assert len(stored_files(storage_dir)) == 1


def test_no_file_chosen_says_so(client_for, member, value):
    client = client_for(member)
    client.post(upload_url(value), {})
    assertContains(client.get(page_url(value)), "Choisissez au moins un fichier à ajouter.")


@pytest.mark.parametrize("how", ["closed", "reader", "after-deadline"])
def test_nothing_can_be_added_when_writing_is_closed(client_for, ej, value, storage_dir, how):
    user = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    self_evaluation = value.self_evaluation
    if how == "closed":
        self_evaluation.state = SelfEvaluationState.CLOTUREE
        self_evaluation.closed_at = self_evaluation.created_at
        self_evaluation.save()
    elif how == "reader":
        user = MembershipFactory(ej=ej, role=MembershipRole.LECTEUR).user
    else:
        campaign = self_evaluation.campaign
        campaign.self_assessment_deadline = campaign.self_assessment_start
        campaign.save()

    response = upload(client_for(user), value, ("bilan.pdf", PDF))

    assert response.status_code == 409
    assertContains(response, "Impossible d&#x27;ajouter un document", status_code=409)
    assertContains(response, "Aucun fichier n'a été enregistré.", status_code=409)
    assert not Document.objects.exists() and stored_files(storage_dir) == []
    # And the page offers no upload form.
    assertNotContains(client_for(user).get(page_url(value)), 'id="documents-fichiers"')


def test_the_closure_cannot_slip_between_the_check_and_the_row(client_for, member, value, storage_dir, monkeypatch):
    """The file passed the first check, then the self-evaluation was closed: refused, the object removed."""
    self_evaluation = value.self_evaluation
    real_store = document_services._store

    def store_then_close(uploaded_file):
        key = real_store(uploaded_file)
        type(self_evaluation).objects.filter(pk=self_evaluation.pk).update(
            state=SelfEvaluationState.CLOTUREE, closed_at=self_evaluation.created_at
        )
        return key

    monkeypatch.setattr(document_services, "_store", store_then_close)
    response = upload(client_for(member), value, ("bilan.pdf", PDF))

    assert response.status_code == 409
    assert not Document.objects.exists() and stored_files(storage_dir) == []


def test_an_upload_interrupted_before_its_row_leaves_no_file(client_for, member, value, storage_dir, monkeypatch):
    """The row's transaction fails after the object was written: no row, and the object is removed."""

    def fail(*args, **kwargs):
        raise ConnectionError("base de données perdue")

    monkeypatch.setattr(document_services, "_record_upload", fail)
    with pytest.raises(ConnectionError):
        upload(client_for(member), value, ("bilan.pdf", PDF))
    assert not Document.objects.exists() and not Attachment.objects.exists()
    assert stored_files(storage_dir) == []


def test_an_upload_without_csrf_token_is_refused(member, value, storage_dir):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(upload_url(value), {"documents": [SimpleUploadedFile("bilan.pdf", PDF)]})
    assert response.status_code == 403
    assert not Document.objects.exists() and stored_files(storage_dir) == []


# The page's script: the block alone, updated in place


def test_the_script_gets_the_block_alone_with_the_results(client_for, member, value, storage_dir):
    client = client_for(member)
    response = upload(client, value, ("bilan.pdf", PDF), ("page.html", HTML_PAGE), **{"X-Ecars-Fragment": "documents"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<section") and "<html" not in html
    assert "« bilan.pdf » a été ajouté." in html and "« page.html » est refusé" in html
    assert "data-documents-results" in html and "bilan.pdf <span" in html

    refused = upload(client, value, ("page.html", HTML_PAGE), **{"X-Ecars-Fragment": "documents"})
    assert refused.status_code == 400
    assertContains(refused, "« page.html » est refusé", status_code=400)


# « Joindre un document déjà déposé »


def attach_url(value):
    return reverse("evaluation:question_attach", args=[value.self_evaluation.public_id, value.indicator.code])


def test_a_document_of_an_earlier_year_is_joined_without_a_second_copy(client_for, member, contract, value):
    earlier = SelfEvaluationFactory(
        contract=contract,
        campaign=CampaignFactory(contract_type=contract.contract_type, year=value.self_evaluation.campaign.year - 1),
        closed=True,
    )
    earlier_value = IndicatorValueFactory(self_evaluation=earlier)
    document = AttachmentFactory(document__ej=contract.ej, indicator_value=earlier_value).document
    client = client_for(member)

    page = client.get(page_url(value))
    assertContains(page, "Joindre un document déjà déposé")
    assertContains(page, f"{document.original_name} — {earlier_value.indicator.code} ({earlier.campaign.year})")

    response = client.post(attach_url(value), {"document": str(document.public_id)})

    assertRedirects(response, page_url(value) + "#documents", fetch_redirect_response=False)
    assert Document.objects.count() == 1
    assert set(Attachment.objects.values_list("indicator_value", flat=True)) == {earlier_value.pk, value.pk}
    page = client.get(page_url(value))
    assertContains(page, f"« {document.original_name} » a été joint à la question.")
    assertContains(page, reverse("documents:download", args=[document.public_id]))
    assert AuditEvent.objects.filter(event_type=EventType.DOCUMENT_ATTACHED, actor=member).exists()
    # Once listed here, it is no longer offered here.
    assertNotContains(page, "Joindre un document déjà déposé")


def test_only_the_ejs_healthy_question_documents_can_be_joined(client_for, member, other_ej, contract, value):
    other_value = IndicatorValueFactory(self_evaluation=SelfEvaluationFactory(contract=ContractFactory(ej=other_ej)))
    foreign = AttachmentFactory(document__ej=other_ej, indicator_value=other_value).document
    infected = AttachmentFactory(
        document__ej=contract.ej,
        document__scan_status=ScanStatus.INFECTE,
        indicator_value=IndicatorValueFactory(self_evaluation=value.self_evaluation),
    ).document
    of_the_contract = DocumentFactory(ej=contract.ej, contract=contract)
    client = client_for(member)

    assert client.post(attach_url(value), {"document": str(foreign.public_id)}).status_code == 404
    for document in (infected, of_the_contract):
        client.post(attach_url(value), {"document": str(document.public_id)})
        assertContains(client.get(page_url(value)), "Ce document ne peut pas être joint à cette question.")
    client.post(attach_url(value), {"document": "pas-un-identifiant"})
    assertContains(client.get(page_url(value)), "Choisissez le document à joindre.")
    assert not Attachment.objects.filter(indicator_value=value).exists()


def test_nothing_can_be_joined_after_closure(client_for, member, contract, value):
    document = AttachmentFactory(
        document__ej=contract.ej, indicator_value=IndicatorValueFactory(self_evaluation=value.self_evaluation)
    ).document
    SelfEvaluationFactory._meta.model.objects.filter(pk=value.self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=value.self_evaluation.created_at
    )
    response = client_for(member).post(attach_url(value), {"document": str(document.public_id)})
    assert response.status_code == 409
    assert not Attachment.objects.filter(indicator_value=value).exists()


# « Retirer »


def withdraw_url(value, document):
    return reverse(
        "evaluation:question_withdraw",
        args=[value.self_evaluation.public_id, value.indicator.code, document.public_id],
    )


def test_the_uploader_withdraws_a_document_that_stays_stored(client_for, member, value, storage_dir):
    client = client_for(member)
    upload(client, value, ("brouillon.pdf", PDF))
    document = Document.objects.get()
    assertContains(client.get(page_url(value)), "Retirer<span")

    response = client.post(withdraw_url(value, document))

    assertRedirects(response, page_url(value) + "#documents", fetch_redirect_response=False)
    page = client.get(page_url(value))
    assertContains(page, "« brouillon.pdf » a été retiré de la question ; il reste conservé.")
    assertNotContains(page, reverse("documents:download", args=[document.public_id]))
    attachment = Attachment.objects.get()
    assert attachment.withdrawn_by == member and attachment.withdrawn_at is not None
    assert Document.objects.filter(pk=document.pk).exists() and stored_files(storage_dir) == [document.file.name]
    assert AuditEvent.objects.filter(event_type=EventType.DOCUMENT_WITHDRAWN, actor=member).exists()
    # Withdrawn, it can be joined again.
    client.post(attach_url(value), {"document": str(document.public_id)})
    assert Attachment.objects.get().withdrawn_at is None


def test_only_the_uploader_may_withdraw(client_for, member, contributor, value):
    document = AttachmentFactory(
        document__ej=value.self_evaluation.contract.ej, indicator_value=value, attached_by=member
    ).document
    client = client_for(contributor)
    assertNotContains(client.get(page_url(value)), "Retirer<span")

    client.post(withdraw_url(value, document))

    assertContains(client.get(page_url(value)), "Seule la personne qui a ajouté ce document peut le retirer.")
    assert Attachment.objects.get().withdrawn_at is None


def test_documents_of_earlier_years_are_never_withdrawn(client_for, member, contract, value):
    current = value.self_evaluation
    earlier = SelfEvaluationFactory(
        contract=contract,
        campaign=CampaignFactory(contract_type=contract.contract_type, year=current.campaign.year - 1),
    )
    # Even reopened by mistake, an earlier year stays out of reach.
    earlier_value = IndicatorValueFactory(self_evaluation=earlier)
    document = AttachmentFactory(document__ej=contract.ej, indicator_value=earlier_value, attached_by=member).document
    client = client_for(member)

    response = client.post(withdraw_url(earlier_value, document))

    assert response.status_code == 302
    page = client.get(page_url(earlier_value))
    assertContains(page, "Les documents des années précédentes ne peuvent pas être retirés.")
    assertNotContains(page, "Retirer<span")
    assert Attachment.objects.get().withdrawn_at is None


def test_nothing_is_withdrawn_after_closure(client_for, member, value):
    document = AttachmentFactory(
        document__ej=value.self_evaluation.contract.ej, indicator_value=value, attached_by=member
    ).document
    type(value.self_evaluation).objects.filter(pk=value.self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=value.self_evaluation.created_at
    )
    response = client_for(member).post(withdraw_url(value, document))
    assert response.status_code == 409
    assert Attachment.objects.get().withdrawn_at is None


def test_establishment_users_cannot_delete_anything(client_for, member, value):
    """Nothing deletes a document: the rows are protected (withdrawing keeps them: see above)."""
    from django.db.models import ProtectedError

    attachment = AttachmentFactory(document__ej=value.self_evaluation.contract.ej, indicator_value=value)
    with pytest.raises(ProtectedError):
        attachment.document.delete()


# What each reader sees


def test_agency_staff_see_the_macro_flag_and_establishments_do_not(client_for, member, ars_staff, value):
    AttachmentFactory(document__ej=value.self_evaluation.contract.ej, document__has_macros=True, indicator_value=value)
    assertContains(client_for(ars_staff).get(page_url(value)), "contient des macros")
    assertNotContains(client_for(member).get(page_url(value)), "contient des macros")


def test_sizes_are_shown_in_mo(client_for, member, value):
    """The unit of the « 20 Mo maximum » rule, French style, rounded up to a tenth (issue 11, item 7)."""
    ej = value.self_evaluation.contract.ej
    AttachmentFactory(
        document__ej=ej, document__original_name="Gros.pdf", document__size=1_234_567, indicator_value=value
    )
    AttachmentFactory(document__ej=ej, document__original_name="Petit.pdf", indicator_value=value)
    page = client_for(member).get(page_url(value))
    assertContains(page, 'Gros.pdf <span class="fr-sr-only">(télécharger, 1,2 Mo)</span>')
    assertContains(page, 'Petit.pdf <span class="fr-sr-only">(télécharger, 0,1 Mo)</span>')
    assertNotContains(page, "octets")


def test_ajouter_document_is_marked_for_the_chooser_script(client_for, member, value):
    """static/js/documents.js opens the chooser when « Ajouter document » is pressed with no file chosen."""
    page = client_for(member).get(page_url(value))
    assertContains(page, "data-documents-upload data-documents-chooser>")
    assertContains(page, '<script src="/static/js/documents.js"></script>', count=1)


def test_a_reader_lists_and_downloads_but_adds_nothing(client_for, ej, value):
    reader = MembershipFactory(ej=ej, role=MembershipRole.LECTEUR).user
    document = AttachmentFactory(document__ej=ej, indicator_value=value).document
    page = client_for(reader).get(page_url(value))
    assertContains(page, document.original_name)
    assertContains(page, "Récupérer tous les documents")
    assertNotContains(page, 'id="documents-fichiers"')
    assertNotContains(page, "Joindre un document déjà déposé")
    assertNotContains(page, "Retirer<span")


def test_a_quarantined_document_is_listed_without_a_link(client_for, member, value):
    document = AttachmentFactory(
        document__ej=value.self_evaluation.contract.ej, document__scan_status=ScanStatus.INFECTE, indicator_value=value
    ).document
    page = client_for(member).get(page_url(value))
    assertContains(page, "infecté — en quarantaine")
    assertNotContains(page, reverse("documents:download", args=[document.public_id]))


@pytest.mark.parametrize(
    ("status", "badge", "hint"),
    [
        (
            ScanStatus.EN_ATTENTE,
            "en attente d'analyse",
            "Téléchargeable dès que l'antivirus l'aura déclaré sain.",
        ),
        (
            ScanStatus.ERREUR,
            "analyse à refaire",
            "Non téléchargeable tant qu'une nouvelle analyse antivirus ne l'a pas déclaré sain.",
        ),
    ],
)
def test_a_document_not_yet_sain_is_listed_with_its_status_not_a_link(
    client_for, member, ars_staff, value, settings, status, badge, hint
):
    """Issue 9: for everybody, its uploader and the ARS included, a status that says until when."""
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"
    document = AttachmentFactory(
        document__ej=value.self_evaluation.contract.ej,
        document__uploaded_by=member,
        document__scan_status=status,
        indicator_value=value,
    ).document
    for user in (member, ars_staff):
        page = client_for(user).get(page_url(value))
        assertContains(page, document.original_name)
        assertContains(page, badge)
        assertContains(page, hint)
        # No link (the withdraw form's address starts like the download one).
        assertNotContains(page, f'href="{reverse("documents:download", args=[document.public_id])}"')


def test_en_attente_is_shown_only_when_an_antivirus_will_answer(client_for, member, value, settings):
    AttachmentFactory(document__ej=value.self_evaluation.contract.ej, indicator_value=value)
    assertNotContains(client_for(member).get(page_url(value)), "en attente d'analyse")
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"
    assertContains(client_for(member).get(page_url(value)), "en attente d'analyse")
