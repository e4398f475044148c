"""Pré-campagne: a signataire of the EJ validates or updates each ET's identification data (beds by activity,
information systems) while the pré-campagne is open; everybody else, and everybody outside the window,
reads them (MANUAL.md Introduction; SECURITY.md C2, C4, D1)."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import given
from hypothesis import strategies as st
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from audit.services import record_event
from contracts import services
from contracts.enums import MembershipRole
from contracts.forms import BEDS_INVALID, BEDS_NEGATIVE, BEDS_TOO_MANY, MAX_BEDS, BedCountField
from contracts.models import IdentificationData
from tests.contracts.factories import (
    ContractFactory,
    EtablissementFactory,
    IdentificationDataFactory,
    MembershipFactory,
)
from tests.evaluation.factories import SelfEvaluationFactory


PARIS = zoneinfo.ZoneInfo("Europe/Paris")

VALID_DATA = {
    "beds_medicine": "120",
    "beds_surgery": "80",
    "beds_obstetrics": "0",
    "beds_rehabilitation": "",
    "beds_psychiatry": "45",
    "beds_long_term": "30",
    "places_home_hospitalisation": "12",
    "patient_record_software": "  Easily  ",
    "prescription_software": "Pharma",
    "pharmacy_software": "Copilote",
    "prescription_software_certified": "oui",
}


def days(n):
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def contract(ej):
    return ContractFactory(ej=ej)


@pytest.fixture
def etablissement(ej, contract):
    etablissement = EtablissementFactory(ej=ej, name="CHU SITE NORD")
    contract.etablissements.add(etablissement)
    return etablissement


@pytest.fixture
def self_evaluation(contract):
    """The contract's current self-evaluation, its campaign in pré-campagne today."""
    return SelfEvaluationFactory(
        contract=contract, campaign__precampaign_start=days(-2), campaign__precampaign_end=days(5)
    )


@pytest.fixture
def campaign(self_evaluation):
    return self_evaluation.campaign


def url(contract, etablissement):
    return reverse("contracts:identification", args=[contract.public_id, etablissement.public_id])


def identification_events():
    return AuditEvent.objects.filter(event_type=EventType.IDENTIFICATION_VALIDATED)


def assert_says(response, text, status_code=200):
    """The page shows `text` (as HTML-escaped by the template)."""
    assertContains(response, escape(text), status_code=status_code)


def assert_nothing_saved():
    assert not IdentificationData.objects.exists()
    assert not identification_events().exists()


# A signataire during the pré-campagne


def test_signataire_sees_the_form_during_the_precampaign(client_for, member, contract, etablissement, campaign):
    response = client_for(member).get(url(contract, etablissement))

    assert response.status_code == 200
    assertContains(response, f"{etablissement.finess} - CHU SITE NORD")
    assertContains(response, "Nombre de lits et places par activité")
    assertContains(response, "Systèmes d'information")
    assertContains(response, '<label class="fr-label" for="id_beds_medicine">Lits de médecine</label>', html=True)
    assertContains(response, "Lits de soins médicaux et de réadaptation (SMR)")
    assertContains(response, '<button class="fr-btn" type="submit">Valider les données</button>', html=True)
    assertContains(response, reverse("contracts:contract_etablissements", args=[contract.public_id]))
    assertContains(response, "Aucune validation enregistrée.")


def test_signataire_validates_the_data(client_for, member, ej, contract, etablissement, campaign):
    client = client_for(member)

    response = client.post(url(contract, etablissement), VALID_DATA, REMOTE_ADDR="203.0.113.7")

    assertRedirects(response, url(contract, etablissement), fetch_redirect_response=False)
    identification = IdentificationData.objects.get()
    assert (identification.etablissement, identification.year) == (etablissement, campaign.year)
    assert identification.beds_medicine == 120
    assert identification.beds_obstetrics == 0
    assert identification.beds_rehabilitation is None
    assert identification.places_home_hospitalisation == 12
    assert identification.patient_record_software == "Easily"
    assert identification.prescription_software_certified is True
    assert identification.validated_by == member
    assert timezone.now() - identification.validated_at < datetime.timedelta(minutes=1)
    event = identification_events().get()
    assert event.actor == member
    assert event.ej == ej
    assert event.ip_address == "203.0.113.7"
    assert event.object_type == "contracts.IdentificationData"
    assert event.object_id == str(identification.pk)
    assert event.data["year"] == campaign.year
    assert event.data["changes"] == {
        "beds_medicine": [None, 120],
        "beds_surgery": [None, 80],
        "beds_obstetrics": [None, 0],
        "beds_psychiatry": [None, 45],
        "beds_long_term": [None, 30],
        "places_home_hospitalisation": [None, 12],
        "patient_record_software": ["", "Easily"],
        "prescription_software": ["", "Pharma"],
        "pharmacy_software": ["", "Copilote"],
        "prescription_software_certified": [None, True],
    }

    page = client.get(url(contract, etablissement))
    assert_says(page, "Données d'identification validées.")
    assertContains(page, 'value="120"')
    assertContains(page, "Lits de médecine : — → 120")


def test_update_records_only_the_changed_fields(client_for, member, contract, etablissement, campaign):
    IdentificationDataFactory(
        etablissement=etablissement,
        year=campaign.year,
        beds_medicine=100,
        beds_surgery=80,
        patient_record_software="Easily",
        prescription_software_certified=False,
    )
    data = {"beds_medicine": "110", "beds_surgery": "80", "patient_record_software": "Easily"}
    data["prescription_software_certified"] = "non"

    client_for(member).post(url(contract, etablissement), data)

    identification = IdentificationData.objects.get()
    assert identification.beds_medicine == 110
    assert identification_events().get().data["changes"] == {"beds_medicine": [100, 110]}


def test_validating_without_change_is_still_recorded(client_for, member, contract, etablissement, campaign):
    IdentificationDataFactory(etablissement=etablissement, year=campaign.year, beds_medicine=100)

    response = client_for(member).post(url(contract, etablissement), {"beds_medicine": "100"})

    assert response.status_code == 302
    identification = IdentificationData.objects.get()
    assert identification.validated_by == member
    assert identification_events().get().data == {"year": campaign.year, "changes": {}}
    assertContains(client_for(member).get(url(contract, etablissement)), "Données validées sans modification.")


def test_ej_year_and_validator_are_never_taken_from_the_request(
    client_for, member, contract, etablissement, campaign, other_member
):
    """SECURITY.md C4: only the values are read from the form."""
    other_et = EtablissementFactory()
    data = {
        **VALID_DATA,
        "year": "1999",
        "etablissement": str(other_et.pk),
        "validated_by": str(other_member.pk),
        "validated_at": "2000-01-01T00:00",
    }

    client_for(member).post(url(contract, etablissement), data)

    identification = IdentificationData.objects.get()
    assert (identification.etablissement, identification.year) == (etablissement, campaign.year)
    assert identification.validated_by == member
    assert identification.validated_at.year == timezone.now().year


# Server-side validation (SECURITY.md D1)


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("beds_medicine", "-1", "Le nombre de lits ne peut pas être négatif."),
        ("beds_surgery", "5001", "Nombre de lits invraisemblable : 5 000 au plus par activité."),
        ("beds_surgery", "99999999999999999999999", "Nombre de lits invraisemblable : 5 000 au plus par activité."),
        ("beds_psychiatry", "douze", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("beds_psychiatry", "12,5", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("beds_psychiatry", "12.5", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("beds_long_term", "1 000", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("beds_long_term", "1_000", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("beds_long_term", "1e309", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("places_home_hospitalisation", "١٢", "Saisissez un nombre entier de lits, sans espace ni lettre."),
        ("patient_record_software", "x" * 201, "Nom trop long : 200 caractères au plus (201 saisis)."),
        ("prescription_software_certified", "peut-être", "Sélectionnez un choix valide."),
    ],
)
def test_bad_input_is_refused_with_a_french_message_and_nothing_saved(
    client_for, member, contract, etablissement, campaign, field, typed, message
):
    response = client_for(member).post(url(contract, etablissement), {**VALID_DATA, field: typed})

    assert response.status_code == 200
    assert_says(response, message)
    assertContains(response, "Les données n'ont pas été validées : corrigez les champs signalés.")
    assert_nothing_saved()


@given(st.one_of(st.text(max_size=30), st.integers().map(str), st.floats().map(str)))
def test_a_bed_count_is_a_plausible_whole_number_or_a_french_error(typed):
    """Whatever is typed, the field gives nothing, a whole number from 0 to 5 000, or one of its messages."""
    try:
        value = BedCountField().clean(typed)
    except ValidationError as error:
        assert error.messages in ([BEDS_INVALID], [BEDS_NEGATIVE], [BEDS_TOO_MANY])
    else:
        assert value is None or (isinstance(value, int) and 0 <= value <= MAX_BEDS)


def test_typed_input_is_kept_on_error(client_for, member, contract, etablissement, campaign):
    data = {**VALID_DATA, "beds_psychiatry": "douze", "prescription_software_certified": "non"}

    response = client_for(member).post(url(contract, etablissement), data)

    assertContains(response, 'value="douze"')
    assertContains(response, 'aria-describedby="id_beds_psychiatry-erreurs"')
    assertContains(response, 'value="120"')
    assertContains(response, 'value="0"')
    assertContains(response, 'value="Pharma"')
    assertContains(response, 'value="non" checked')
    assert_nothing_saved()


def test_bed_counts_bounds_are_accepted(client_for, member, contract, etablissement, campaign):
    data = {**VALID_DATA, "beds_medicine": "5000", "beds_surgery": " 0 ", "beds_psychiatry": "007"}

    response = client_for(member).post(url(contract, etablissement), data)

    assert response.status_code == 302
    identification = IdentificationData.objects.get()
    assert (identification.beds_medicine, identification.beds_surgery, identification.beds_psychiatry) == (5000, 0, 7)


# Outside the pré-campagne


@pytest.mark.parametrize(
    ("now", "writable"),
    [
        (datetime.datetime(2026, 2, 1, 23, 59, tzinfo=PARIS), False),
        (datetime.datetime(2026, 2, 2, 0, 1, tzinfo=PARIS), True),
        (datetime.datetime(2026, 2, 9, 23, 59, tzinfo=PARIS), True),
        (datetime.datetime(2026, 2, 10, 0, 1, tzinfo=PARIS), False),
    ],
)
def test_the_form_is_open_during_the_precampaign_bounds_included(
    client_for, member, contract, etablissement, now, writable
):
    """The manual's calendar: pré-campagne from 2 to 9 February 2026 (Paris time), both days included."""
    with time_machine.travel(now, tick=False):
        SelfEvaluationFactory(
            contract=contract,
            campaign__year=2025,
            campaign__precampaign_start=datetime.date(2026, 2, 2),
            campaign__precampaign_end=datetime.date(2026, 2, 9),
            campaign__self_assessment_start=datetime.date(2026, 3, 2),
            campaign__self_assessment_deadline=datetime.date(2026, 4, 17),
        )
        client = client_for(member)
        page = client.get(url(contract, etablissement))
        response = client.post(url(contract, etablissement), VALID_DATA)

    if writable:
        assertContains(page, "Valider les données")
        assert response.status_code == 302
        assert IdentificationData.objects.get().year == 2025
    else:
        assertNotContains(page, "Valider les données")
        assertNotContains(page, 'name="beds_medicine"')
        assertContains(page, "La pré-campagne est fermée : ouverte du 2 février 2026 au 9 février 2026.")
        assert response.status_code == 403
        assertContains(response, "Accès refusé", status_code=403)
        assert_nothing_saved()


@pytest.mark.parametrize("window", [(-40, -33), (3, 10)], ids=["after", "before"])
def test_outside_the_window_the_data_are_read_only(client_for, member, contract, etablissement, window):
    campaign = SelfEvaluationFactory(
        contract=contract, campaign__precampaign_start=days(window[0]), campaign__precampaign_end=days(window[1])
    ).campaign
    IdentificationDataFactory(
        etablissement=etablissement, year=campaign.year, beds_medicine=100, prescription_software_certified=True
    )
    client = client_for(member)

    page = client.get(url(contract, etablissement))
    response = client.post(url(contract, etablissement), {**VALID_DATA, "beds_medicine": "1"})

    assert page.status_code == 200
    assertContains(page, "La pré-campagne est fermée : ouverte du")
    assertContains(page, "<div><dt>Lits de médecine</dt><dd>100</dd></div>", html=True)
    assertContains(page, "<div><dt>LAP certifié HAS</dt><dd>Oui</dd></div>", html=True)
    assertContains(page, "<div><dt>Lits de chirurgie</dt><dd>—</dd></div>", html=True)
    assertNotContains(page, 'name="beds_medicine"')
    assert response.status_code == 403
    assert IdentificationData.objects.get().beds_medicine == 100
    assert not identification_events().exists()


def test_without_a_campaign_the_page_says_so(client_for, member, contract, etablissement):
    client = client_for(member)

    page = client.get(url(contract, etablissement))
    response = client.post(url(contract, etablissement), VALID_DATA)

    assert page.status_code == 200
    assert_says(page, "Aucune campagne n'est en cours pour ce contrat")
    assertNotContains(page, "Valider les données")
    assertNotContains(page, 'name="beds_medicine"')
    assert response.status_code == 403
    assert_nothing_saved()


# Who may do what


@pytest.mark.parametrize("who", [MembershipRole.CONTRIBUTEUR, MembershipRole.LECTEUR, "ars"])
def test_contributeur_lecteur_and_agency_staff_read_only(
    client_for, ej, ars_staff, contract, etablissement, campaign, who
):
    """Only a signataire of the EJ validates the data; contributeurs, lecteurs and ARS staff of the region
    read them, and a POST is refused."""
    user = ars_staff if who == "ars" else MembershipFactory(ej=ej, role=who).user
    client = client_for(user)

    page = client.get(url(contract, etablissement))
    response = client.post(url(contract, etablissement), VALID_DATA)

    assert page.status_code == 200
    assert_says(page, "Seul un signataire de l'établissement peut valider ces données.")
    assertContains(page, "Nombre de lits et places par activité")
    assertNotContains(page, "Valider les données")
    assertNotContains(page, 'name="beds_medicine"')
    assert response.status_code == 403
    assert_nothing_saved()


def test_another_ej_member_gets_404(client_for, other_member, contract, etablissement, campaign):
    """SECURITY.md C2: a signataire of another EJ does not learn that the contract exists."""
    client = client_for(other_member)

    assert client.get(url(contract, etablissement)).status_code == 404
    assert client.post(url(contract, etablissement), VALID_DATA).status_code == 404
    assert_nothing_saved()


def test_anonymous_is_sent_to_the_login_page(client, contract, etablissement, campaign):
    response = client.post(url(contract, etablissement), VALID_DATA)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert_nothing_saved()


@pytest.mark.parametrize("whose", ["same_ej", "other_ej"])
def test_an_et_not_covered_by_the_contract_gets_404(client_for, member, ej, other_ej, contract, campaign, whose):
    """Only the ET of the contract: another ET of the EJ, or any other ET, answers 404."""
    outside = EtablissementFactory(ej=ej if whose == "same_ej" else other_ej)
    client = client_for(member)

    assert client.get(url(contract, outside)).status_code == 404
    assert client.post(url(contract, outside), VALID_DATA).status_code == 404
    assert_nothing_saved()


def test_the_service_refuses_a_non_signataire(ej, contract, etablissement, campaign):
    """The rule holds for callers other than the page."""
    contributeur = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    identification = IdentificationData(etablissement=etablissement, year=campaign.year)

    with pytest.raises(PermissionDenied):
        services.validate_identification(identification, {"beds_medicine": 1}, acting_user=contributeur)
    assert_nothing_saved()


# History


def test_history_lists_earlier_validations_newest_first(client_for, member, ej, contract, etablissement, campaign):
    colleague = MembershipFactory(ej=ej, signataire=True, user__first_name="Alice", user__last_name="Martin").user
    client_for(colleague).post(url(contract, etablissement), {**VALID_DATA, "beds_medicine": "100"})
    client_for(member).post(url(contract, etablissement), {**VALID_DATA, "beds_medicine": "110"})

    response = client_for(member).get(url(contract, etablissement))

    content = response.content.decode()
    assert content.count("Lits de médecine : 100 → 110") == 1
    assert content.index("Lits de médecine : 100 → 110") < content.index("Lits de médecine : — → 100")
    assertContains(response, str(colleague))
    assertContains(response, "LAP certifié HAS : — → Oui")
    assertContains(response, "Dossier patient informatisé (DPI) : — → Easily")


def test_history_is_also_shown_read_only(client_for, member, ej, contract, etablissement):
    """After the pré-campagne, the validations made during it stay visible."""
    signataire = MembershipFactory(ej=ej, signataire=True).user
    with time_machine.travel(timezone.now() - datetime.timedelta(days=35)):
        campaign = SelfEvaluationFactory(
            contract=contract, campaign__precampaign_start=days(-2), campaign__precampaign_end=days(2)
        ).campaign
        client_for(signataire).post(url(contract, etablissement), {**VALID_DATA, "beds_medicine": "100"})
    assert campaign.precampaign_end < timezone.localdate()

    response = client_for(member).get(url(contract, etablissement))

    assertContains(response, "La pré-campagne est fermée")
    assertContains(response, "Lits de médecine : — → 100")


def test_history_does_not_show_other_data(client_for, member, ej, contract, etablissement, campaign):
    other_data = IdentificationDataFactory(etablissement=EtablissementFactory(ej=ej), year=campaign.year)
    record_event(
        EventType.IDENTIFICATION_VALIDATED,
        actor=member,
        ej=ej,
        target=other_data,
        data={"year": campaign.year, "changes": {"beds_medicine": [None, 4321]}},
    )
    IdentificationDataFactory(etablissement=etablissement, year=campaign.year)

    response = client_for(member).get(url(contract, etablissement))

    assertNotContains(response, "4321")
    assertContains(response, "Aucune validation enregistrée.")


def test_page_queries_do_not_grow_with_the_history(client_for, member, ej, contract, etablissement, campaign):
    """STYLE.md §53: the history costs one query, however long."""
    identification = IdentificationDataFactory(etablissement=etablissement, year=campaign.year)
    client = client_for(member)

    def add_events(count):
        for i in range(count):
            user = MembershipFactory(ej=ej, signataire=True).user
            data = {"year": campaign.year, "changes": {"beds_medicine": [i, i + 1]}}
            record_event(EventType.IDENTIFICATION_VALIDATED, actor=user, ej=ej, target=identification, data=data)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(contract, etablissement))
        assert response.status_code == 200
        return len(queries)

    add_events(1)
    with_one = count_queries()
    add_events(9)
    with_ten = count_queries()

    assert with_ten == with_one, f"{with_one} queries with one entry, {with_ten} with ten"
    assertContains(client.get(url(contract, etablissement)), "Lits de médecine : 8 → 9")
