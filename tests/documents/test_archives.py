"""« Récupérer tous les documents »: a question's ZIP and the contract's, streamed with stored members."""

import hashlib
import io
import os
import tracemalloc
import zipfile

import pytest
from django.urls import reverse
from django.utils.text import slugify

from documents.archive import DocumentAltered
from documents.enums import ScanStatus
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.documents.corpus import sample
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import (
    AttachmentFactory,
    CampaignFactory,
    IndicatorValueFactory,
    NodeFactory,
    SelfEvaluationFactory,
)


@pytest.fixture
def contract(ej):
    return ContractFactory(ej=ej)


@pytest.fixture
def value(contract):
    return IndicatorValueFactory(self_evaluation=SelfEvaluationFactory(contract=contract), indicator__code="2.1.1.a")


def stored(ej, content, *, name, **fields):
    return DocumentFactory(ej=ej, content=content, original_name=name, **fields)


def attach(value, content, name, **fields):
    document = stored(value.self_evaluation.contract.ej, content, name=name, **fields)
    AttachmentFactory(document=document, indicator_value=value)
    return document


def question_zip_url(value):
    return reverse("evaluation:question_zip", args=[value.self_evaluation.public_id, value.indicator.code])


def read_zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_questions_zip_holds_its_documents_stored_not_deflated(client_for, member, value, storage_dir):
    pdf, xlsx = sample("valid.pdf"), sample("valid.xlsx")
    attach(value, pdf, "Bilan 2025.pdf")
    attach(value, xlsx, "Tableau de bord.xlsx")
    attach(value, b"autre contenu\n", "Bilan 2025.pdf")  # the same name twice: both are kept

    response = client_for(member).get(question_zip_url(value))

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    contract, year = value.self_evaluation.contract, value.self_evaluation.campaign.year
    name = f"documents-{contract.ej.finess}-{slugify(contract.name)}-{year}-2.1.1.a.zip"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    archive = read_zip(response)
    assert archive.testzip() is None
    assert archive.namelist() == ["Bilan 2025.pdf", "Tableau de bord.xlsx", "Bilan 2025 (2).pdf"]
    assert [info.compress_type for info in archive.infolist()] == [zipfile.ZIP_STORED] * 3
    assert archive.read("Bilan 2025.pdf") == pdf
    assert archive.read("Tableau de bord.xlsx") == xlsx
    assert archive.read("Bilan 2025 (2).pdf") == b"autre contenu\n"


def test_withdrawn_and_quarantined_documents_stay_out_and_are_named(client_for, member, value, storage_dir):
    attach(value, sample("valid.pdf"), "Bon.pdf")
    attach(value, b"X5O!P%@AP", "Virus.pdf", scan_status=ScanStatus.INFECTE)
    withdrawn = attach(value, b"retire", "Retire.pdf")
    withdrawn.attachments.update(withdrawn_at=withdrawn.uploaded_at, withdrawn_by=member)

    archive = read_zip(client_for(member).get(question_zip_url(value)))

    assert archive.namelist() == ["Bon.pdf", "LISEZMOI.txt"]
    notes = archive.read("LISEZMOI.txt").decode()
    assert "Virus.pdf (mis en quarantaine : l'antivirus y a détecté un virus)" in notes
    assert "Retire.pdf" not in notes


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ScanStatus.EN_ATTENTE, "en cours d'analyse antivirus"),
        (ScanStatus.ERREUR, "l'analyse antivirus n'a pas pu aboutir, elle sera refaite"),
    ],
)
def test_documents_not_yet_sain_stay_out_of_everybodys_zip_and_are_named(
    client_for, member, ars_staff, contract, value, storage_dir, settings, status, reason
):
    """SECURITY.md E9 (issue 9): as for a single download, neither the uploader nor the ARS get them."""
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"  # scanning on: a verdict will come
    attach(value, sample("valid.pdf"), "Bon.pdf", scan_status=ScanStatus.SAIN)
    attach(value, b"pas encore analyse", "Nouveau.pdf", scan_status=status, uploaded_by=member)
    stored(contract.ej, b"avenant", name="Avenant.pdf", contract=contract, uploaded_by=ars_staff, scan_status=status)

    for user in (member, ars_staff):
        client = client_for(user)
        archive = read_zip(client.get(question_zip_url(value)))
        assert archive.namelist() == ["Bon.pdf", "LISEZMOI.txt"]
        assert f"- Nouveau.pdf ({reason})" in archive.read("LISEZMOI.txt").decode()

        archive = read_zip(client.get(reverse("documents:contract_zip", args=[contract.public_id])))
        year = value.self_evaluation.campaign.year
        assert archive.namelist() == [f"{year}/{value.indicator.code}/Bon.pdf", "LISEZMOI.txt"]
        notes = archive.read("LISEZMOI.txt").decode()
        assert f"- Avenant.pdf ({reason})" in notes and f"- Nouveau.pdf ({reason})" in notes


def test_the_zip_of_another_ejs_question_is_404(client_for, other_member, value):
    attach(value, b"secret", "Secret.pdf")
    assert client_for(other_member).get(question_zip_url(value)).status_code == 404


def test_the_contracts_zip_has_a_folder_per_question_code(client_for, member, ars_staff, contract, value, storage_dir):
    earlier = SelfEvaluationFactory(
        contract=contract,
        campaign=CampaignFactory(contract_type=contract.contract_type, year=value.self_evaluation.campaign.year - 1),
        closed=True,
    )
    earlier_value = IndicatorValueFactory(
        self_evaluation=earlier,
        indicator=NodeFactory(referential=earlier.campaign.referential, code="2.1.1.a", indicator=True),
    )
    etablissement = EtablissementFactory(ej=contract.ej)
    by_et = IndicatorValueFactory(
        self_evaluation=value.self_evaluation, etablissement=etablissement, indicator__code="3.2"
    )
    shared = attach(value, b"preuve commune", "Preuve.pdf")
    AttachmentFactory(document=shared, indicator_value=by_et)  # one stored copy, listed twice
    attach(earlier_value, b"an dernier", "Preuve.pdf")
    stored(contract.ej, b"contrat signe", name="CAQES signé.pdf", contract=contract, uploaded_by=ars_staff)
    year, last_year = value.self_evaluation.campaign.year, earlier.campaign.year

    response = client_for(member).get(reverse("documents:contract_zip", args=[contract.public_id]))

    assert response.status_code == 200
    archive = read_zip(response)
    assert archive.namelist() == [
        "Documents du contrat/CAQES signé.pdf",
        f"{last_year}/2.1.1.a/Preuve.pdf",
        f"{year}/2.1.1.a/Preuve.pdf",
        f"{year}/3.2 - {etablissement.finess}/Preuve.pdf",
    ]
    assert archive.read(f"{year}/3.2 - {etablissement.finess}/Preuve.pdf") == b"preuve commune"
    assert archive.read(f"{last_year}/2.1.1.a/Preuve.pdf") == b"an dernier"
    assert archive.read("Documents du contrat/CAQES signé.pdf") == b"contrat signe"


def disposition(response):
    assert response.status_code == 200
    return response["Content-Disposition"]


def test_generated_names_tell_the_ej_the_contract_and_the_year_apart(client_for, member, other_ej, storage_dir):
    """Issue 11, item 8: « documents-380780080-caqes-test-2025.zip », never the code that many contracts share;
    ASCII only, so that every browser keeps the name as it is."""
    contract = ContractFactory(ej=member.memberships.get().ej, name="CAQES Test — Évry", code="CAQES")
    same_code = ContractFactory(ej=other_ej, name="CAQES Test — Évry", code="CAQES")
    ej_question = IndicatorValueFactory(
        self_evaluation=SelfEvaluationFactory(contract=contract), indicator__code="2.1.1.a"
    )
    year = ej_question.self_evaluation.campaign.year
    etablissement = EtablissementFactory(ej=contract.ej)
    et_question = IndicatorValueFactory(
        self_evaluation=ej_question.self_evaluation, etablissement=etablissement, indicator__code="3.2"
    )
    client = client_for(member)
    finess = contract.ej.finess

    contract_zip = disposition(client.get(reverse("documents:contract_zip", args=[contract.public_id])))
    assert contract_zip == f'attachment; filename="documents-{finess}-caqes-test-evry-{year}.zip"'
    assert disposition(client.get(question_zip_url(ej_question))) == (
        f'attachment; filename="documents-{finess}-caqes-test-evry-{year}-2.1.1.a.zip"'
    )
    et_zip = client.get(
        reverse("evaluation:question_zip", args=[et_question.self_evaluation.public_id, "3.2"]),
        {"et": etablissement.finess},
    )
    assert disposition(et_zip) == (
        f'attachment; filename="documents-{finess}-caqes-test-evry-{year}-3.2-{etablissement.finess}.zip"'
    )

    # A later campaign names the contract's ZIP; the other EJ's contract of the same code has its own name.
    SelfEvaluationFactory(
        contract=contract, campaign=CampaignFactory(contract_type=contract.contract_type, year=year + 1)
    )
    assert disposition(client.get(reverse("documents:contract_zip", args=[contract.public_id]))) == (
        f'attachment; filename="documents-{finess}-caqes-test-evry-{year + 1}.zip"'
    )
    # Before its first self-evaluation, a contract's ZIP has no year to tell.
    other_client = client_for(MembershipFactory(ej=other_ej).user)
    other_zip = other_client.get(reverse("documents:contract_zip", args=[same_code.public_id]))
    assert disposition(other_zip) == f'attachment; filename="documents-{other_ej.finess}-caqes-test-evry.zip"'


def test_the_contracts_zip_of_another_ej_is_404(client_for, other_member, contract):
    assert (
        client_for(other_member).get(reverse("documents:contract_zip", args=[contract.public_id])).status_code == 404
    )


def test_the_zip_memory_stays_bounded_with_50_files(client_for, member, value, storage_dir):
    """50 documents of 1 Mo: the archive is 50 Mo, the memory used while sending it stays under 5 Mo."""
    for number in range(50):
        attach(value, os.urandom(1024 * 1024), f"Piece {number:02}.pdf")
    response = client_for(member).get(question_zip_url(value))

    tracemalloc.start()
    try:
        total, digest = 0, hashlib.sha256()
        for chunk in response.streaming_content:
            total += len(chunk)
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total > 50 * 1024 * 1024
    assert peak < 5 * 1024 * 1024, f"pic mémoire {peak / 1024 / 1024:.1f} Mo"


def test_the_zip_starts_before_the_documents_are_read(client_for, member, value, storage_dir):
    """The first bytes leave as soon as the first chunk is read: nothing waits for the whole archive."""
    for number in range(3):
        attach(value, os.urandom(200 * 1024), f"Piece {number}.pdf")
    response = client_for(member).get(question_zip_url(value))
    first = next(iter(response.streaming_content))
    assert first.startswith(b"PK\x03\x04") and len(first) < 100 * 1024
    response.close()


def test_a_document_altered_in_storage_aborts_the_zip(client_for, member, value, storage_dir, caplog):
    document = attach(value, sample("valid.pdf"), "Bilan.pdf")
    (storage_dir / document.file.name).write_bytes(b"%PDF-1.4 falsifie\n%%EOF\n")
    response = client_for(member).get(question_zip_url(value))
    with pytest.raises(DocumentAltered):
        b"".join(response.streaming_content)
    assert "altéré" in caplog.text
