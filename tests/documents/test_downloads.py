"""Downloads (SECURITY.md E7–E9): only through the authorising view, as attachments, checked, headed."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from documents.enums import ScanStatus
from documents.models import Document
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory
from tests.documents.corpus import sample
from tests.documents.factories import DocumentFactory


def download_url(document):
    return reverse("documents:download", args=[document.public_id])


def stored(ej, content, *, name="rapport.pdf", mime_type="application/pdf", **fields):
    return DocumentFactory(ej=ej, content=content, original_name=name, mime_type=mime_type, **fields)


def body(response):
    return b"".join(response.streaming_content)


@pytest.mark.parametrize(
    ("name", "mime_type", "file_name"),
    [
        ("bilan.pdf", "application/pdf", "valid.pdf"),
        ("photo.jpg", "image/jpeg", "valid.jpg"),
        ("notes.txt", "text/plain", "valid.txt"),
        ("tableau.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "valid.xlsx"),
    ],
)
def test_a_member_downloads_the_exact_bytes_as_an_attachment(
    client_for, member, ej, storage_dir, name, mime_type, file_name
):
    content = sample(file_name)
    document = stored(ej, content, name=name, mime_type=mime_type)

    response = client_for(member).get(download_url(document))

    assert response.status_code == 200
    assert body(response) == content
    assert response["Content-Type"] == mime_type
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ('rapport "final"; v2.pdf', 'attachment; filename="rapport \\"final\\"; v2.pdf"'),
        ("Évaluation été.pdf", "attachment; filename*=utf-8''%C3%89valuation%20%C3%A9t%C3%A9.pdf"),
        ("a\r\nSet-Cookie: x=1.pdf", "attachment; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x%3D1.pdf"),
    ],
)
def test_the_file_name_is_safely_encoded(client_for, member, ej, storage_dir, name, header):
    """Quotes, semicolons, accents and even a line break (never accepted at upload) cannot break the header."""
    document = stored(ej, sample("valid.pdf"), name=name)
    response = client_for(member).get(download_url(document))
    assert response["Content-Disposition"] == header
    assert "Set-Cookie" not in response.headers or "x=1" not in response["Set-Cookie"]


def test_a_member_of_another_ej_gets_404(client_for, other_member, ej, storage_dir):
    document = stored(ej, sample("valid.pdf"))
    assert client_for(other_member).get(download_url(document)).status_code == 404


def test_anonymous_users_are_sent_to_the_login(client, ej, storage_dir):
    document = stored(ej, sample("valid.pdf"))
    response = client.get(download_url(document))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_agency_staff_of_the_region_download_and_others_do_not(client_for, ars_staff, other_region, ej, storage_dir):
    document = stored(ej, sample("valid.pdf"))
    assert client_for(ars_staff).get(download_url(document)).status_code == 200
    outsider = UserFactory(ars_staff=True, region=other_region)
    assert client_for(outsider).get(download_url(document)).status_code == 404


def test_a_document_altered_in_storage_is_never_served(client_for, member, ej, storage_dir, caplog):
    content = sample("valid.pdf")
    document = stored(ej, content)
    (storage_dir / document.file.name).write_bytes(content.replace(b"%PDF", b"%PDX"))

    response = client_for(member).get(download_url(document))

    assert response.status_code == 503
    assertContains(response, "ne peut pas être téléchargé pour le moment", status_code=503)
    assert b"%PDX" not in response.content
    assert "altéré" in caplog.text


def test_a_document_missing_from_storage_says_so(client_for, member, ej, storage_dir, caplog):
    document = stored(ej, sample("valid.pdf"))
    (storage_dir / document.file.name).unlink()
    response = client_for(member).get(download_url(document))
    assert response.status_code == 503
    assertContains(response, "L'équipe d'exploitation a été alertée.", status_code=503)
    assert "illisible" in caplog.text


def test_a_quarantined_document_is_never_downloaded(client_for, member, ars_staff, ej, storage_dir):
    document = stored(ej, sample("valid.pdf"), scan_status=ScanStatus.INFECTE, uploaded_by=member)
    for user in (member, ars_staff):
        response = client_for(user).get(download_url(document))
        assert response.status_code == 423
        assertContains(response, "l&#x27;antivirus y a détecté un virus", status_code=423)


@pytest.mark.parametrize(
    ("status", "reason", "until"),
    [
        (
            ScanStatus.EN_ATTENTE,
            "en cours d&#x27;analyse antivirus",
            "Il sera téléchargeable dès que l'antivirus l'aura déclaré sain, en général en quelques minutes.",
        ),
        (
            ScanStatus.ERREUR,
            "l&#x27;analyse antivirus n&#x27;a pas pu aboutir, elle sera refaite",
            "Une nouvelle analyse est programmée : il sera téléchargeable dès que l'antivirus l'aura déclaré sain.",
        ),
    ],
)
def test_nobody_downloads_a_document_until_the_antivirus_says_sain(
    client_for, member, ars_staff, ej, storage_dir, settings, status, reason, until
):
    """SECURITY.md E9 (issue 9): not its uploader, not the ARS, not a colleague."""
    settings.CLAMD_SOCKET = "/run/clamav/clamd.ctl"  # scanning on: a verdict will come
    content = sample("valid.pdf")
    document = stored(ej, content, name="Bilan.pdf", uploaded_by=member, scan_status=status)
    colleague = MembershipFactory(ej=ej).user
    for user in (member, ars_staff, colleague):
        response = client_for(user).get(download_url(document))
        assert response.status_code == 423
        assert not response.streaming and content not in response.content
        assertContains(response, f"« Bilan.pdf » ne peut pas être téléchargé : {reason}.", status_code=423)
        assertContains(response, until, status_code=423)

    Document.objects.filter(pk=document.pk).update(scan_status=ScanStatus.SAIN)
    for user in (member, ars_staff, colleague):
        assert body(client_for(user).get(download_url(document))) == content


def test_the_admin_links_to_the_authorising_download_view(client_for, ars_staff, ej, storage_dir):
    document = stored(ej, sample("valid.pdf"), name="Bilan.pdf")
    page = client_for(ars_staff).get(reverse("admin:documents_document_change", args=[document.pk]))
    assertContains(page, f'<a href="{download_url(document)}" download>Télécharger « Bilan.pdf »</a>', html=True)
    assertContains(page, document.file.name)  # the storage key, as text: the storage has no public URL


def test_the_admin_shows_sizes_in_mo(client_for, ars_staff, ej, storage_dir):
    """The unit of the « 20 Mo maximum » rule for the agents too, in the list and on the document."""
    document = DocumentFactory(ej=ej, original_name="Gros.pdf", size=1_234_567)
    agent = client_for(ars_staff)
    assertContains(agent.get(reverse("admin:documents_document_changelist")), "1,2 Mo")
    page = agent.get(reverse("admin:documents_document_change", args=[document.pk]))
    assertContains(page, "1,2 Mo")
    assertNotContains(page, "1234567")
