"""The EJ page and the contract page, in the manual's words (MANUAL.md §2)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from contracts.enums import MembershipRole
from evaluation.enums import SelfEvaluationState
from tests.accounts.factories import UserFactory
from tests.contracts.factories import (
    AdministrativeContactFactory,
    ContractFactory,
    EtablissementFactory,
    MembershipFactory,
)
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import CampaignFactory, SelfEvaluationFactory


@pytest.fixture
def contract(ej, region):
    contract = ContractFactory(
        ej=ej,
        name="CAQES TEST",
        code="PUBLIC",
        ars_contact=UserFactory(ars_staff=True, region=region, first_name="Mourad", last_name="Abed"),
        effective_date=datetime.date(2022, 7, 1),
        effective_end_date=datetime.date(2026, 12, 31),
        extension_months=12,
    )
    contract.etablissements.set(EtablissementFactory.create_batch(2, ej=ej))
    return contract


@pytest.fixture
def self_evaluation(contract, region):
    campaign = CampaignFactory(contract_type=contract.contract_type, regions=[region], name="CAQES 2025")
    return SelfEvaluationFactory(contract=contract, campaign=campaign)


def contract_url(contract):
    return reverse("contracts:contract_detail", args=[contract.public_id])


# --- EJ page -----------------------------------------------------------------------------------


def test_ej_page_shows_the_manuals_fields_and_contracts(client_for, member, ej, contract, self_evaluation):
    response = client_for(member).get(reverse("contracts:ej_detail", args=[ej.public_id]))
    for words in ("Raison Sociale", "Finess Juridique", "Détails EJ", "Liste des contrats", ej.finess, ej.name):
        assertContains(response, words)
    for column in (
        "Type de contrat",
        "Contrat",
        "Statut du contrat",
        "Date d'effet",
        "Date de fin de contrat effective",
        "Etat en cours",
    ):
        assertContains(response, f'<th scope="col">{column}</th>', html=True)
    assertContains(response, f'<a href="{contract_url(contract)}">CAQES TEST</a>', html=True)
    assertContains(response, "<td>Auto-Evaluation</td>", html=True)
    assertContains(response, "<td>01/07/2022</td>", html=True)
    for etablissement in contract.etablissements.all():
        assertContains(response, f"{etablissement.finess} - {etablissement.name}")


def test_etat_en_cours_follows_the_latest_campaign(client_for, member, ej, contract, self_evaluation):
    later = CampaignFactory(contract_type=contract.contract_type, year=self_evaluation.campaign.year + 1)
    SelfEvaluationFactory(contract=contract, campaign=later, closed=True)
    response = client_for(member).get(reverse("contracts:ej_detail", args=[ej.public_id]))
    assertContains(response, "<td>Consultation — clôturée</td>", html=True)


@pytest.mark.parametrize("count", [5, 50])
def test_ej_page_queries_do_not_grow_with_contracts(client_for, member, ej, count, django_assert_num_queries):
    for _ in range(count):
        SelfEvaluationFactory(contract=ContractFactory(ej=ej))
    client = client_for(member)
    client.get(reverse("contracts:ej_detail", args=[ej.public_id]))
    # session, user, savepoint, EJ, its ET, contracts, their states (asked of the evaluation app through
    # contracts/hooks.py, one query for the whole list), member admin?, release
    with django_assert_num_queries(9):
        client.get(reverse("contracts:ej_detail", args=[ej.public_id]))


# --- Contract page -----------------------------------------------------------------------------


def test_contract_page_shows_every_field_of_the_manual(client_for, member, contract, self_evaluation):
    response = client_for(member).get(contract_url(contract))
    for label in (
        "Contrat",
        "Code",
        "Contact ARS",
        "Type de contrat",
        "Statut",
        "Date de signature estimée",
        "Date fin de contrat effective",
        "Date d'effet",
        "Date de dernière prorogation",
        "Durée de prorogation",
    ):
        assertContains(response, f"<dt>{label}</dt>", html=True)
    assertContains(response, "<dd>PUBLIC</dd>", html=True)
    assertContains(response, "Mourad ABED")
    assertContains(response, "<dd>Signé</dd>", html=True)
    assertContains(response, "<dd>12 mois</dd>", html=True)
    assertContains(response, "Accéder à la liste des contacts administratifs")
    assertContains(response, "Accéder à la liste des établissements du contrat")
    assertContains(response, "Documents du contrat")


def test_a_signataire_during_the_campaign_sees_auto_evaluation_and_both_buttons(
    client_for, member, contract, self_evaluation
):
    response = client_for(member).get(contract_url(contract))
    assertContains(response, '<p class="ecars-state-banner__title">Auto-Evaluation</p>', html=True)
    assertContains(response, "Saisir les indicateurs")
    assertContains(response, "Clore la saisie")


def test_a_contributeur_writes_but_does_not_close(client_for, ej, contract, self_evaluation):
    contributor = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    response = client_for(contributor).get(contract_url(contract))
    assertContains(response, "Auto-Evaluation")
    assertContains(response, "Saisir les indicateurs")
    assertNotContains(response, "Clore la saisie")


def test_a_lecteur_only_consults(client_for, ej, contract, self_evaluation):
    reader = MembershipFactory(ej=ej, lecteur=True).user
    response = client_for(reader).get(contract_url(contract))
    assertContains(response, '<p class="ecars-state-banner__title">Consultation</p>', html=True)
    assertContains(response, "Consulter les indicateurs")
    assertNotContains(response, "Saisir les indicateurs")
    assertNotContains(response, "Clore la saisie")


@pytest.mark.parametrize(
    "state_or_dates",
    ["closed", "before", "after"],
)
def test_consultation_when_closed_or_outside_the_calendar(
    client_for, member, contract, self_evaluation, state_or_dates
):
    campaign = self_evaluation.campaign
    today = timezone.localdate()
    if state_or_dates == "closed":
        self_evaluation.state = SelfEvaluationState.CLOTUREE
        self_evaluation.closed_at = timezone.now()
        self_evaluation.save()
    elif state_or_dates == "before":
        campaign.self_assessment_start = today + datetime.timedelta(days=1)
        campaign.self_assessment_deadline = today + datetime.timedelta(days=30)
        campaign.save()
    else:
        campaign.self_assessment_deadline = today - datetime.timedelta(days=1)
        campaign.self_assessment_start = today - datetime.timedelta(days=30)
        campaign.save()
    response = client_for(member).get(contract_url(contract))
    assertContains(response, '<p class="ecars-state-banner__title">Consultation</p>', html=True)
    assertNotContains(response, "Saisir les indicateurs")


def test_an_extension_keeps_the_ej_writing_after_the_deadline(client_for, member, contract, self_evaluation):
    today = timezone.localdate()
    campaign = self_evaluation.campaign
    campaign.self_assessment_start = today - datetime.timedelta(days=30)
    campaign.self_assessment_deadline = today - datetime.timedelta(days=1)
    campaign.save()
    self_evaluation.extended_until = today + datetime.timedelta(days=3)
    self_evaluation.save()
    response = client_for(member).get(contract_url(contract))
    assertContains(response, "Auto-Evaluation")
    assertContains(response, "prolongée pour votre établissement jusqu'au")
    assertContains(response, "Clôture dans 3 jours")


def test_the_calendar_and_the_closing_countdown(client_for, member, contract, self_evaluation):
    campaign = self_evaluation.campaign
    campaign.self_assessment_deadline = timezone.localdate() + datetime.timedelta(days=10)
    campaign.report_date = datetime.date(2027, 7, 1)
    campaign.save()
    response = client_for(member).get(contract_url(contract))
    for step in ("Pré-campagne", "Ouverture de l'auto-évaluation", "Date limite de l'auto-évaluation"):
        assertContains(response, step)
    assertContains(response, "1 juillet 2027")
    assertContains(response, "Clôture dans 10 jours")


def test_no_countdown_while_the_deadline_is_far(client_for, member, contract, self_evaluation):
    campaign = self_evaluation.campaign
    campaign.self_assessment_deadline = timezone.localdate() + datetime.timedelta(days=40)
    campaign.save()
    assertNotContains(client_for(member).get(contract_url(contract)), "Clôture dans")


def test_agency_staff_of_the_region_consult_the_contract(client_for, ars_staff, contract, self_evaluation):
    response = client_for(ars_staff).get(contract_url(contract))
    assertContains(response, "Consultation")
    assertNotContains(response, "Clore la saisie")


def test_contract_documents_are_listed(client_for, member, contract, self_evaluation):
    DocumentFactory(ej=contract.ej, contract=contract, original_name="Avenant n°2.pdf")
    response = client_for(member).get(contract_url(contract))
    assertContains(response, "Avenant n°2.pdf")
    for column in ("Document", "Date de modification", "Auteur de la modification"):
        assertContains(response, f'<th scope="col">{column}</th>', html=True)


@pytest.mark.parametrize("count", [5, 50])
def test_contract_page_queries_do_not_grow_with_documents(
    client_for, member, contract, self_evaluation, count, django_assert_num_queries
):
    for _ in range(count):
        DocumentFactory(ej=contract.ej, contract=contract)
    client = client_for(member)
    client.get(contract_url(contract))
    # session, user, savepoint, contract, self-evaluation, role, last extension request, documents, release
    # (whether the contract has any document at all, for « Récupérer tous les documents », is asked only
    # when it has none of its own: documents/contract_page.py)
    with django_assert_num_queries(9):
        client.get(contract_url(contract))


def test_contacts_and_establishments_pages(client_for, member, contract):
    AdministrativeContactFactory(contract=contract, last_name="DURAND", function="Pharmacien gérant")
    client = client_for(member)
    response = client.get(reverse("contracts:contract_contacts", args=[contract.public_id]))
    assertContains(response, "DURAND")
    assertContains(response, "Pharmacien gérant")
    response = client.get(reverse("contracts:contract_etablissements", args=[contract.public_id]))
    for etablissement in contract.etablissements.all():
        assertContains(response, etablissement.finess)


def test_un_probleme_gives_the_regions_contacts(client_for, member, contract, region):
    response = client_for(member).get(contract_url(contract))
    assertContains(response, "Un problème ?")
    assertContains(response, region.support_email)
    assertContains(response, region.support_phone)
    assertContains(response, region.business_email)


def test_un_probleme_on_pages_without_a_contract_uses_the_users_region(client_for, member, region):
    response = client_for(member).get(reverse("accounts:account"))
    assertContains(response, region.support_email)
