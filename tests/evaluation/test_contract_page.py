"""What `evaluation` gives the pages of `contracts` through its hooks (evaluation/contract_page.py, registered
in evaluation/apps.py): the contract page's blocks, « Etat en cours » and the pré-campagne."""

import datetime

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from contracts import hooks
from contracts.enums import MembershipRole
from contracts.hooks import PrecampaignWindow
from contracts.models import Contract
from contracts.views.contract import blocks_by_slot
from evaluation import contract_page
from evaluation.enums import ExtensionStatus, SelfEvaluationState
from evaluation.models import ExtensionRequest, SelfEvaluation
from tests.contracts.factories import ContractFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory, SelfEvaluationFactory


ASK = "Demander une prolongation"


@pytest.fixture
def contract(ej):
    return ContractFactory(ej=ej)


@pytest.fixture
def self_evaluation(contract):
    """In auto-évaluation, open today."""
    return SelfEvaluationFactory(contract=contract)


def contract_url(contract):
    return reverse("contracts:contract_detail", args=[contract.public_id])


def get_as(client_for, user, contract):
    return client_for(user).get(contract_url(contract))


# --- The contract page ------------------------------------------------------------------------


def test_evaluation_fills_the_three_slots(rf_user, member, contract, self_evaluation):
    slots = blocks_by_slot(hooks.contract_page.collect(rf_user(member), contract))
    ours = {
        block.template_name: slot
        for slot, blocks in slots.items()
        for block in blocks
        if block.template_name.startswith("evaluation/")
    }
    assert ours == {
        "evaluation/_contract_banner.html": "header",
        "evaluation/_contract_actions.html": "actions",
        "evaluation/_contract_calendar.html": "body",
    }


def test_the_banner_comes_before_the_title_and_the_calendar_after_the_links(client_for, member, self_evaluation):
    content = get_as(client_for, member, self_evaluation.contract).content.decode()
    positions = [
        content.index('<p class="ecars-state-banner__title">Auto-Evaluation</p>'),
        content.index("<h1>"),
        content.index("Saisir les indicateurs"),
        content.index("Accéder à la liste des établissements du contrat"),
        content.index("<h2>Calendrier"),
    ]
    assert positions == sorted(positions)


def test_without_a_self_evaluation_only_the_banner(client_for, member, contract):
    response = get_as(client_for, member, contract)
    assertContains(response, '<p class="ecars-state-banner__title">Consultation</p>', html=True)
    assertNotContains(response, "état :")
    assertNotContains(response, "indicateurs")
    assertNotContains(response, "Calendrier")


@pytest.mark.parametrize(
    ("role", "offered"),
    [(MembershipRole.LECTEUR, False), (MembershipRole.CONTRIBUTEUR, True), (MembershipRole.SIGNATAIRE, True)],
)
def test_only_those_who_may_ask_are_offered_an_extension(client_for, ej, self_evaluation, role, offered):
    """The rule of evaluation/extensions.py: a lecteur, who would be refused, is not offered the link."""
    user = MembershipFactory(ej=ej, role=role).user
    response = get_as(client_for, user, self_evaluation.contract)
    (assertContains if offered else assertNotContains)(response, ASK)


def test_agency_staff_are_not_offered_an_extension(client_for, ars_staff, self_evaluation):
    assertNotContains(get_as(client_for, ars_staff, self_evaluation.contract), ASK)


def test_a_lecteur_reads_the_last_decision_without_the_link(client_for, ej, member, self_evaluation):
    today = timezone.localdate()
    ExtensionRequest.objects.create(
        self_evaluation=self_evaluation,
        requested_by=member,
        requested_until=today + datetime.timedelta(days=40),
        reason="Changement de logiciel",
        status=ExtensionStatus.REFUSEE,
        decided_at=timezone.now(),
        decision_reason="Délai suffisant",
    )
    lecteur = MembershipFactory(ej=ej, lecteur=True).user

    response = get_as(client_for, lecteur, self_evaluation.contract)

    assertContains(response, "refusée par l'ARS")
    assertNotContains(response, ASK)
    # A signataire may ask again after a refusal.
    assertContains(get_as(client_for, member, self_evaluation.contract), ASK)


# --- « Etat en cours » and the pré-campagne ---------------------------------------------------


def test_current_states_in_one_query_for_the_whole_list(ej):
    with_one = [SelfEvaluationFactory(contract=ContractFactory(ej=ej)).contract for _ in range(3)]
    closed = SelfEvaluationFactory(contract=ContractFactory(ej=ej), closed=True).contract
    without = ContractFactory(ej=ej)
    contracts = list(Contract.objects.filter(ej=ej))

    with CaptureQueriesContext(connection) as queries:
        states = hooks.contract_states.first(contracts)

    assert len(queries) == 1
    assert states == {
        **{contract.pk: "Auto-Evaluation" for contract in with_one},
        closed.pk: "Consultation — clôturée",
    }
    assert without.pk not in states
    assert hooks.contract_states.first([]) == {}


# The manual's calendar: auto-évaluation from 2 March to 17 April 2026.
START, DEADLINE = datetime.date(2026, 3, 2), datetime.date(2026, 4, 17)


@pytest.mark.parametrize(
    ("state", "extended_until", "today", "expected"),
    [
        ("pre_campagne", None, datetime.date(2026, 2, 5), "Pré-campagne"),
        ("auto_evaluation", None, datetime.date(2026, 2, 5), "Consultation — saisie à partir du 2 mars 2026"),
        ("auto_evaluation", None, START, "Auto-Evaluation"),
        ("auto_evaluation", None, DEADLINE, "Auto-Evaluation"),
        ("auto_evaluation", None, DEADLINE + datetime.timedelta(days=1), "Consultation — date limite passée"),
        ("auto_evaluation", datetime.date(2026, 4, 30), datetime.date(2026, 4, 30), "Auto-Evaluation"),
        (
            "auto_evaluation",
            datetime.date(2026, 4, 30),
            datetime.date(2026, 5, 1),
            "Consultation — date limite passée",
        ),
        ("cloturee", None, datetime.date(2026, 3, 20), "Consultation — clôturée"),
        ("en_evaluation", None, datetime.date(2026, 5, 20), "Consultation — en évaluation"),
        ("rapport_envoye", None, datetime.date(2026, 7, 20), "Consultation — rapport envoyé"),
        ("contradictoire", None, datetime.date(2026, 7, 25), "Consultation — période contradictoire"),
        ("definitive", None, datetime.date(2026, 9, 1), "Consultation — définitive"),
    ],
)
def test_etat_en_cours_says_whether_the_establishment_may_write(contract, state, extended_until, today, expected):
    """« Auto-Evaluation » while the establishment may write (state and calendar, extension included, the
    rule of the banner), « Consultation » once it may not, with the phase after it."""
    campaign = CampaignFactory(
        contract_type=contract.contract_type, self_assessment_start=START, self_assessment_deadline=DEADLINE
    )
    closed_at = None if state in ("pre_campagne", "auto_evaluation") else timezone.now()
    SelfEvaluationFactory(
        contract=contract, campaign=campaign, state=state, extended_until=extended_until, closed_at=closed_at
    )
    assert contract_page.current_states([contract], today=today) == {contract.pk: expected}


def test_after_closure_the_ej_page_says_consultation(client_for, member, ej, self_evaluation):
    """The manual: once closed, the contract « passe au statut Consultation »."""
    url = reverse("contracts:ej_detail", args=[ej.public_id])
    assertContains(client_for(member).get(url), "<td>Auto-Evaluation</td>", html=True)
    SelfEvaluation.objects.filter(pk=self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=timezone.now()
    )
    assertContains(client_for(member).get(url), "<td>Consultation — clôturée</td>", html=True)


def test_past_the_deadline_the_ej_page_says_consultation_though_nobody_closed(client_for, member, ej, contract):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    campaign = CampaignFactory(contract_type=contract.contract_type, self_assessment_deadline=yesterday)
    SelfEvaluationFactory(contract=contract, campaign=campaign)
    response = client_for(member).get(reverse("contracts:ej_detail", args=[ej.public_id]))
    assertContains(response, "<td>Consultation — date limite passée</td>", html=True)


def test_the_contract_admin_shows_the_current_state(client_for, ars_staff, region):
    SelfEvaluationFactory(contract=ContractFactory(ej__region=region), closed=True)
    ContractFactory(ej__region=region)

    response = client_for(ars_staff).get(reverse("admin:contracts_contract_changelist"))

    assertContains(response, '<td class="field-current_state">Consultation — clôturée</td>', html=True)
    assertContains(response, '<td class="field-current_state">—</td>', html=True)


def test_the_precampaign_is_that_of_the_latest_campaign(contract):
    today = timezone.localdate()
    assert hooks.precampaign.first(contract, today) is None
    SelfEvaluationFactory(contract=contract, campaign__year=2024)
    latest = CampaignFactory(
        contract_type=contract.contract_type,
        year=2025,
        name="CAQES 2025",
        precampaign_start=datetime.date(2026, 2, 2),
        precampaign_end=datetime.date(2026, 2, 9),
    )
    SelfEvaluationFactory(contract=contract, campaign=latest)

    assert hooks.precampaign.first(contract, today) == PrecampaignWindow(
        year=2025, start=datetime.date(2026, 2, 2), end=datetime.date(2026, 2, 9), name="CAQES 2025"
    )


@pytest.fixture
def rf_user():
    def make(user):
        request = RequestFactory().get("/")
        request.user = user
        return request

    return make
