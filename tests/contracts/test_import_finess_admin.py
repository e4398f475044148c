"""« Importer le fichier FINESS » in the admin (contracts/finess_admin.py): upload → preview → confirm, for national
administrators only, through the same service as the command."""

import gzip
import html as html_module

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.enums import EventType
from audit.models import AuditEvent
from contracts import finess_admin
from contracts.models import EntiteJuridique, Etablissement, Region
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory
from tests.contracts.finess_extract import CHU_TOULOUSE, PURPAN, RANGUEIL, encode, sample, sample_lines, structureet


UPLOAD = reverse("admin:contracts_entitejuridique_import_finess")
CONFIRM = reverse("admin:contracts_entitejuridique_import_finess_confirm")
CHANGELIST = reverse("admin:contracts_entitejuridique_changelist")


@pytest.fixture(autouse=True)
def _private_temp_dir(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)


@pytest.fixture
def national_admin():
    return UserFactory(national_admin=True)


def text(response) -> str:
    """The page as read (entities such as &#x27; decoded)."""
    return html_module.unescape(response.content.decode())


def upload(client, content: bytes, name="etalab-cs1100507-stock.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def pending_files(tmp_path):
    folder = tmp_path / "ecars-finess-import"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_ej_list_offers_the_import_to_national_administrators_only(client_for, national_admin, ars_staff):
    assert "Importer le fichier FINESS" in text(client_for(national_admin).get(CHANGELIST))
    response = client_for(ars_staff).get(CHANGELIST)
    assert response.status_code == 200
    assert "Importer le fichier FINESS" not in text(response)


def test_upload_preview_confirm(client_for, national_admin, tmp_path):
    client = client_for(national_admin)
    page = client.get(UPLOAD)
    assert page.status_code == 200
    html = text(page)
    assert '<label for="id_file"' in html and 'aria-describedby="id_file_helptext"' in html

    preview = upload(client, sample())
    assert preview.status_code == 200
    html = text(preview)
    assert "Aperçu de l'import FINESS" in html
    assert "<caption>Changements prévus</caption>" in html
    assert '<th scope="row">EJ à créer</th><td>4</td>' in html
    assert '<th scope="row">ET à créer</th><td>5</td>' in html
    assert "CHU DE TOULOUSE - HÔPITAL PURPAN" in html
    assert 'value="Confirmer l\'import"' in html
    # Nothing is written before the confirmation; the file waits, named by the token of the form.
    assert EntiteJuridique.objects.count() == 0 and Region.objects.count() == 0
    token = preview.context["token"]
    assert [path.name for path in pending_files(tmp_path)] == [token]

    response = client.post(CONFIRM, {"token": token})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert EntiteJuridique.objects.count() == 4 and Etablissement.objects.count() == 5
    assert Etablissement.objects.get(finess=PURPAN).ej.region.name == "Occitanie"
    event = AuditEvent.objects.get(event_type=EventType.COMMAND_RUN)
    assert event.actor == national_admin and event.data["source"] == "admin"
    assert event.data["file_name"] == "etalab-cs1100507-stock.csv"
    assert pending_files(tmp_path) == []
    listing = text(client.get(CHANGELIST))
    assert "Import FINESS effectué" in listing and "EJ créées : 4" in listing

    # The same confirmation again: nothing pending any more, nothing written twice.
    again = client.post(CONFIRM, {"token": token}, follow=True)
    assert "Aucun import FINESS n'est en attente" in text(again)
    assert EntiteJuridique.objects.count() == 4


def test_a_second_upload_of_the_same_file_has_nothing_to_confirm(client_for, national_admin, tmp_path):
    client = client_for(national_admin)
    client.post(CONFIRM, {"token": upload(client, sample()).context["token"]})
    preview = upload(client, sample())
    html = text(preview)
    assert "Rien à créer ni à mettre à jour" in html
    assert 'value="Confirmer l\'import"' not in html
    assert pending_files(tmp_path) == []


def test_the_preview_shows_each_change_old_and_new(client_for, national_admin):
    client = client_for(national_admin)
    client.post(CONFIRM, {"token": upload(client, sample()).context["token"]})
    lines = sample_lines()
    lines[2] = structureet(RANGUEIL, CHU_TOULOUSE, "HOPITAL RANGUEIL", rslongue="CHU - RANGUEIL LARREY")
    html = text(upload(client, encode(lines)))
    assert '<th scope="row">ET à mettre à jour</th><td>1</td>' in html
    assert "raison sociale : « CHU DE TOULOUSE - HÔPITAL RANGUEIL » → « CHU - RANGUEIL LARREY »" in html


def test_a_compressed_file_is_accepted(client_for, national_admin):
    client = client_for(national_admin)
    preview = upload(client, gzip.compress(sample()), name="finess.csv.gz")
    assert preview.status_code == 200
    client.post(CONFIRM, {"token": preview.context["token"]})
    assert Etablissement.objects.count() == 5


def test_a_bad_file_lists_its_errors_and_offers_no_confirmation(client_for, national_admin, tmp_path):
    client = client_for(national_admin)
    lines = sample_lines()
    lines[2] = structureet("31000002", CHU_TOULOUSE, "HOPITAL RANGUEIL")
    lines[5] = structureet(PURPAN.replace("31", "99", 1), CHU_TOULOUSE, "X", departement="99")
    response = upload(client, encode(lines))
    assert response.status_code == 400
    html = text(response)
    assert 'role="alert"' in html and "est refusé : 2 erreurs" in html
    assert "<caption>Erreurs du fichier « etalab-cs1100507-stock.csv » (2)</caption>" in html
    assert '<th scope="row">3</th><td>numéro FINESS nofinesset invalide (« 31000002 »)' in html
    assert '<th scope="row">6</th><td>département inconnu (« 99 »)</td>' in html
    assert 'value="Confirmer l\'import"' not in html
    assert pending_files(tmp_path) == [] and finess_admin.SESSION_KEY not in client.session
    assert (EntiteJuridique.objects.count(), Region.objects.count()) == (0, 0)


def test_a_utf8_file_is_refused_in_the_admin_too(client_for, national_admin):
    response = upload(client_for(national_admin), "\n".join(sample_lines()).encode("utf-8"))
    assert response.status_code == 400
    assert "Le fichier est encodé en UTF-8, attendu ISO-8859-1" in text(response)
    assert EntiteJuridique.objects.count() == 0


def test_no_file_gives_an_error_summary_tied_to_the_field(client_for, national_admin):
    response = client_for(national_admin).post(UPLOAD, {})
    assert response.status_code == 400
    html = text(response)
    assert '<a href="#id_file">Fichier FINESS : Choisissez le fichier FINESS à importer.</a>' in html
    assert 'aria-describedby="id_file_error id_file_helptext"' in html


def test_a_file_above_the_limit_is_refused(client_for, national_admin, monkeypatch):
    monkeypatch.setattr(finess_admin, "MAX_UPLOAD_SIZE", 100)
    response = upload(client_for(national_admin), sample())
    assert response.status_code == 400
    assert "compressez-le en .gz" in text(response)


def test_the_confirmation_refuses_a_database_changed_since_the_preview(client_for, national_admin, region):
    client = client_for(national_admin)
    token = upload(client, sample()).context["token"]
    EntiteJuridiqueFactory(finess=CHU_TOULOUSE, region=region, name="CHU DE TOULOUSE")
    response = client.post(CONFIRM, {"token": token}, follow=True)
    assert "ont été modifiés depuis l'aperçu" in text(response)
    assert Etablissement.objects.count() == 0 and EntiteJuridique.objects.count() == 1


def test_the_confirmation_refuses_a_pending_file_that_changed(client_for, national_admin, tmp_path):
    client = client_for(national_admin)
    token = upload(client, sample()).context["token"]
    (tmp_path / "ecars-finess-import" / token).write_bytes(sample().replace(b"PURPAN", b"PIRATE"))
    response = client.post(CONFIRM, {"token": token}, follow=True)
    assert "n'est plus celui de l'aperçu" in text(response)
    assert EntiteJuridique.objects.count() == 0


def test_the_confirmation_needs_the_token_of_this_session(client_for, national_admin):
    owner = client_for(national_admin)
    token = upload(owner, sample()).context["token"]
    other = client_for(UserFactory(national_admin=True))
    response = other.post(CONFIRM, {"token": token}, follow=True)
    assert "Aucun import FINESS n'est en attente" in text(response)
    response = owner.post(CONFIRM, {"token": "../" + token}, follow=True)
    assert "Aucun import FINESS n'est en attente" in text(response)
    assert EntiteJuridique.objects.count() == 0


@pytest.mark.parametrize("traits", [{"ars_staff": True}, {"am_staff": True}, {"omedit_staff": True}], ids=str)
def test_other_roles_get_403(traits, client_for, region):
    client = client_for(UserFactory(region=region, **traits))
    assert client.get(UPLOAD).status_code == 403
    assert upload(client, sample()).status_code == 403
    assert client.post(CONFIRM, {"token": "0" * 32}).status_code == 403
    assert EntiteJuridique.objects.count() == 0


def test_an_ars_agent_cannot_confirm_a_pending_import(client_for, national_admin, region):
    """Even with a token seen elsewhere, the agent's request is refused before anything is read."""
    token = upload(client_for(national_admin), sample()).context["token"]
    agent = client_for(UserFactory(ars_staff=True, region=region))
    assert agent.post(CONFIRM, {"token": token}).status_code == 403
    assert EntiteJuridique.objects.count() == 0


def test_confirm_answers_post_only(client_for, national_admin):
    assert client_for(national_admin).get(CONFIRM).status_code == 405
