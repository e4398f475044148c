"""« Ouvrir l'auto-évaluation » (issue 11, item 9): an agent opens the self-evaluation of a new contract in the
current campaign of its type and region, from the contracts' admin, through the service a bulk opening uses;
the contract page tells agents why a contract has none yet.

Calendar of the tests, the manual's: pré-campagne from 2 to 9 February 2026, auto-évaluation from 2 March to
17 April 2026; « today » is 10 March 2026 unless a test travels elsewhere.
"""

import datetime
import html
import zoneinfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from audit.enums import EventType
from audit.models import AuditEvent
from contracts import hooks
from contracts.enums import ContractStatus, MembershipRole
from ecars.privileges import StaffRole
from evaluation import services
from evaluation.enums import AnswerLevel, SelfEvaluationState
from evaluation.models import IndicatorValue, SelfEvaluation, Transition
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, ContractTypeFactory, EtablissementFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory, NodeFactory, SelfEvaluationFactory


PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PRECAMPAIGN = (datetime.date(2026, 2, 2), datetime.date(2026, 2, 9))
START = datetime.date(2026, 3, 2)
DEADLINE = datetime.date(2026, 4, 17)
TODAY = datetime.date(2026, 3, 10)
ACTION = "open_self_evaluations"


def at(day: datetime.date):
    """Travel to 10:00 (Paris) on `day`."""
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(10), tzinfo=PARIS), tick=False)


@pytest.fixture(autouse=True)
def _today():
    with at(TODAY):
        yield


@pytest.fixture
def contract(ej):
    """A new signed CAQES contract covering one ET, as an agent creates it in the admin."""
    contract = ContractFactory(ej=ej, name="CAQES TEST", contract_type=ContractTypeFactory(code="CAQES"))
    contract.etablissements.add(EtablissementFactory(ej=ej))
    return contract


def make_campaign(contract_type, regions, **dates):
    calendar = {
        "precampaign_start": PRECAMPAIGN[0],
        "precampaign_end": PRECAMPAIGN[1],
        "self_assessment_start": START,
        "self_assessment_deadline": DEADLINE,
        "year": 2025,
        **dates,
    }
    campaign = CampaignFactory(contract_type=contract_type, regions=regions, **calendar)
    objective = NodeFactory(referential=campaign.referential)
    NodeFactory(referential=campaign.referential, parent=objective, indicator=True)
    NodeFactory(referential=campaign.referential, parent=objective, indicator=True, answer_level=AnswerLevel.ET)
    return campaign


@pytest.fixture
def campaign(contract, region):
    """The CAQES campaign of the region, with one question for the EJ and one for each ET."""
    return make_campaign(contract.contract_type, [region], name="CAQES 2025")


def staff(role, region):
    traits = {
        StaffRole.NATIONAL_ADMIN: {"national_admin": True},
        StaffRole.ARS_AGENT: {"ars_staff": True, "region": region},
        StaffRole.AM_EVALUATOR: {"am_staff": True, "region": region},
        StaffRole.OMEDIT_EVALUATOR: {"omedit_staff": True, "region": region},
    }
    return UserFactory(**traits[role])


def run_action(client, *contracts):
    return client.post(
        reverse("admin:contracts_contract_changelist"),
        {"action": ACTION, "_selected_action": [contract.pk for contract in contracts], "index": 0},
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text(response) -> str:
    return html.unescape(response.content.decode())


def label(contract) -> str:
    return f"{contract} ({contract.ej.finess} - {contract.ej.name})"


def contract_url(contract):
    return reverse("contracts:contract_detail", args=[contract.public_id])


def banner(response) -> str:
    content = text(response)
    start = content.index('<p class="ecars-state-banner__title">') + len('<p class="ecars-state-banner__title">')
    return content[start : content.index("</p>", start)]


# --- The journey of the issue ---------------------------------------------------------------------------


def test_a_new_contract_is_opened_by_the_action_and_its_user_can_write(client_for, ars_staff, ej, contract, campaign):
    user = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    member_client = client_for(user)
    page = member_client.get(contract_url(contract))
    assert banner(page) == "Consultation"
    assert "Saisir les indicateurs" not in text(page)
    ej_page = member_client.get(reverse("contracts:ej_detail", args=[ej.public_id]))
    assert "<td>—</td>" in text(ej_page)

    response = run_action(client_for(ars_staff), contract)

    assert response.status_code == 302
    assert messages_of(response) == [
        f"{label(contract)} : Auto-évaluation ouverte dans la campagne « CAQES 2025 » : l'établissement peut "
        "saisir jusqu'au 17/04/2026."
    ]
    self_evaluation = SelfEvaluation.objects.get(contract=contract)
    assert (self_evaluation.campaign, self_evaluation.state) == (campaign, SelfEvaluationState.AUTO_EVALUATION)
    # One value for the EJ's question, one for the ET's.
    assert IndicatorValue.objects.filter(self_evaluation=self_evaluation).count() == 2
    [transition] = Transition.objects.all()
    assert (transition.user, transition.to_state) == (ars_staff, SelfEvaluationState.AUTO_EVALUATION)
    [event] = AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED)
    assert (event.actor, event.ej, event.data["to"]) == (ars_staff, ej, SelfEvaluationState.AUTO_EVALUATION)

    page = member_client.get(contract_url(contract))
    assert banner(page) == "Auto-Evaluation"
    assert "Saisir les indicateurs" in text(page)
    ej_page = member_client.get(reverse("contracts:ej_detail", args=[ej.public_id]))
    assert "<td>Auto-Evaluation</td>" in text(ej_page)


# --- Who may open: the privilege table, in the agent's region ------------------------------------------


@pytest.mark.parametrize("role", list(StaffRole), ids=str)
def test_the_action_follows_the_privilege_table(client_for, region, contract, campaign, role):
    agent = staff(role, region)
    client = client_for(agent)
    changelist = client.get(reverse("admin:contracts_contract_changelist"))
    action_form = changelist.context["action_form"]  # None when the role has no action on contracts
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    may_open = role in (StaffRole.NATIONAL_ADMIN, StaffRole.ARS_AGENT)
    assert (ACTION in offered) is may_open

    run_action(client, contract)

    assert SelfEvaluation.objects.filter(contract=contract).exists() is may_open
    if not may_open:
        with pytest.raises(PermissionDenied):
            services.open_current_self_evaluation(contract, acting_user=agent)
        assert not SelfEvaluation.objects.exists()


def test_an_agent_cannot_open_a_contract_of_another_region(client_for, ars_staff, other_region):
    foreign = ContractFactory(ej__region=other_region)
    foreign.etablissements.add(EtablissementFactory(ej=foreign.ej))
    make_campaign(foreign.contract_type, [other_region])

    response = run_action(client_for(ars_staff), foreign)

    # Another region's contract is not in the agent's list: the action does not even see it.
    assert messages_of(response) == []
    assert not SelfEvaluation.objects.exists()
    with pytest.raises(PermissionDenied):
        services.open_current_self_evaluation(foreign, acting_user=ars_staff)
    assert not SelfEvaluation.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED).exists()


def test_a_national_administrator_opens_in_every_region(client_for, other_region):
    foreign = ContractFactory(ej__region=other_region)
    foreign.etablissements.add(EtablissementFactory(ej=foreign.ej))
    make_campaign(foreign.contract_type, [other_region])

    run_action(client_for(UserFactory(national_admin=True)), foreign)

    assert SelfEvaluation.objects.get(contract=foreign).state == SelfEvaluationState.AUTO_EVALUATION


# --- What it does, contract by contract ------------------------------------------------------------------


def test_opening_twice_changes_nothing_the_second_time(client_for, ars_staff, contract, campaign):
    client = client_for(ars_staff)
    run_action(client, contract)
    client.get(reverse("admin:contracts_contract_changelist"))  # the first message is shown, then gone

    response = run_action(client, contract)

    assert messages_of(response) == [
        f"{label(contract)} : Auto-évaluation déjà ouverte dans la campagne « CAQES 2025 » "
        "(état « Auto-Evaluation ») : rien n'a changé."
    ]
    assert SelfEvaluation.objects.count() == 1
    assert Transition.objects.count() == 1
    assert IndicatorValue.objects.count() == 2


def test_a_closed_self_evaluation_is_left_as_it_is(client_for, ars_staff, contract, campaign):
    SelfEvaluationFactory(contract=contract, campaign=campaign, closed=True)

    response = run_action(client_for(ars_staff), contract)

    assert messages_of(response) == [
        f"{label(contract)} : Auto-évaluation déjà ouverte dans la campagne « CAQES 2025 » "
        "(état « Clôturée ») : rien n'a changé."
    ]
    assert SelfEvaluation.objects.get().state == SelfEvaluationState.CLOTUREE


def test_several_contracts_each_get_their_message(client_for, ars_staff, ej, region, contract, campaign):
    already = ContractFactory(ej=ej, name="CAQES DÉJÀ", contract_type=contract.contract_type)
    SelfEvaluationFactory(contract=already, campaign=campaign)
    other_type = ContractFactory(ej=ej, name="CPOM", contract_type=ContractTypeFactory(code="CPOM"))
    unsigned = ContractFactory(
        ej=ej, name="CAQES EN PRÉPARATION", contract_type=contract.contract_type, status=ContractStatus.EN_PREPARATION
    )
    other_region_campaign = ContractFactory(ej=ej, name="CAQES AILLEURS", contract_type=ContractTypeFactory(code="X"))
    make_campaign(other_region_campaign.contract_type, [])  # a campaign of its type, but not for this region

    response = run_action(client_for(ars_staff), contract, already, other_type, unsigned, other_region_campaign)

    assert sorted(messages_of(response)) == sorted(
        [
            f"{label(contract)} : Auto-évaluation ouverte dans la campagne « CAQES 2025 » : l'établissement peut "
            "saisir jusqu'au 17/04/2026.",
            f"{label(already)} : Auto-évaluation déjà ouverte dans la campagne « CAQES 2025 » "
            "(état « Auto-Evaluation ») : rien n'a changé.",
            f"{label(other_type)} : auto-évaluation non ouverte. Aucune campagne CPOM n'est en cours pour la "
            "région Occitanie.",
            f"{label(unsigned)} : auto-évaluation non ouverte. Le contrat n'est pas signé (statut « En "
            "préparation ») : seuls les contrats signés sont évalués.",
            f"{label(other_region_campaign)} : auto-évaluation non ouverte. Aucune campagne X n'est en cours pour "
            "la région Occitanie.",
        ]
    )
    assert set(SelfEvaluation.objects.values_list("contract", flat=True)) == {contract.pk, already.pk}


def test_a_campaign_not_open_yet_is_named_with_its_opening_day(client_for, ars_staff, contract, region):
    make_campaign(
        contract.contract_type,
        [region],
        name="CAQES 2026",
        year=2026,
        precampaign_start=datetime.date(2027, 2, 1),
        precampaign_end=datetime.date(2027, 2, 8),
        self_assessment_start=datetime.date(2027, 3, 1),
        self_assessment_deadline=datetime.date(2027, 4, 16),
    )

    response = run_action(client_for(ars_staff), contract)

    assert messages_of(response) == [
        f"{label(contract)} : auto-évaluation non ouverte. La campagne « CAQES 2026 » n'est pas encore ouverte "
        "(ouverture le 01/02/2027)."
    ]
    assert not SelfEvaluation.objects.exists()


def test_after_the_deadline_there_is_nothing_to_open(client_for, ars_staff, contract, campaign):
    with at(DEADLINE + datetime.timedelta(days=1)):
        response = run_action(client_for(ars_staff), contract)
    assert messages_of(response) == [
        f"{label(contract)} : auto-évaluation non ouverte. Aucune campagne CAQES n'est en cours pour la région "
        "Occitanie."
    ]
    assert not SelfEvaluation.objects.exists()


def test_a_contract_without_its_etablissements_is_not_opened(client_for, ars_staff, contract, campaign):
    """The questions asked of each ET would have no line: the agent is told to attach the ET first."""
    contract.etablissements.clear()

    response = run_action(client_for(ars_staff), contract)

    assert messages_of(response) == [
        f"{label(contract)} : auto-évaluation non ouverte. Aucun établissement n'est rattaché au contrat, alors "
        "que la campagne « CAQES 2025 » pose des questions par établissement : rattachez-lui ses établissements, "
        "puis ouvrez l'auto-évaluation."
    ]
    assert not SelfEvaluation.objects.exists()


def test_in_precampaign_it_is_created_and_opened_with_the_auto_evaluation(
    client_for, ars_staff, member, contract, campaign
):
    """In pré-campagne the self-evaluation is created in « Pré-campagne » (the establishment validates its
    identification data, and writes nothing yet); on the opening day, the same action opens it."""
    with at(PRECAMPAIGN[0]):
        response = run_action(client_for(ars_staff), contract)
        assert messages_of(response) == [
            f"{label(contract)} : Auto-évaluation créée dans la campagne « CAQES 2025 », à l'état « Pré-campagne » : "
            "la saisie ne s'ouvre que le 02/03/2026. Ce jour-là, relancez « Ouvrir l'auto-évaluation » pour ce "
            "contrat."
        ]
        self_evaluation = SelfEvaluation.objects.get(contract=contract)
        assert self_evaluation.state == SelfEvaluationState.PRE_CAMPAGNE
        assert hooks.precampaign.first(contract, PRECAMPAIGN[0]).is_open_on(PRECAMPAIGN[0])
        assert banner(client_for(member).get(contract_url(contract))) == "Consultation"
        [event] = AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED)
        assert (event.actor, event.data["from"], event.data["to"]) == (ars_staff, "", SelfEvaluationState.PRE_CAMPAGNE)

        again = run_action(client_for(ars_staff), contract)
        assert messages_of(again) == [
            f"{label(contract)} : Auto-évaluation déjà créée dans la campagne « CAQES 2025 » "
            "(état « Pré-campagne ») : rien n'a changé."
        ]

    with at(START):
        run_action(client_for(ars_staff), contract)
        self_evaluation.refresh_from_db()
        assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION
        assert banner(client_for(member).get(contract_url(contract))) == "Auto-Evaluation"
    assert SelfEvaluation.objects.count() == 1


def test_nothing_is_half_done_when_the_opening_fails(ars_staff, contract, campaign, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("panne")

    monkeypatch.setattr(services, "transition", broken)
    with pytest.raises(RuntimeError):
        services.open_current_self_evaluation(contract, acting_user=ars_staff)
    assert not SelfEvaluation.objects.exists()
    assert not IndicatorValue.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED).exists()


def test_the_latest_of_two_running_campaigns_is_opened(ars_staff, contract, campaign, region):
    later = make_campaign(contract.contract_type, [region], name="CAQES 2025 bis", year=2026)
    opening = services.open_current_self_evaluation(contract, acting_user=ars_staff)
    assert opening.changed
    assert opening.self_evaluation.campaign == later


# --- Why a contract has no self-evaluation: on its page, for agents ---------------------------------------


def reason_on_page(client, contract) -> str | None:
    content = text(client.get(contract_url(contract)))
    if 'id="ouverture"' not in content:
        return None
    start = content.index('id="ouverture"')
    paragraph = content.index("<p>", start) + len("<p>")
    return content[paragraph : content.index("</p>", paragraph)]


def test_agents_are_told_to_use_the_action(client_for, ars_staff, contract, campaign):
    client = client_for(ars_staff)
    assert reason_on_page(client, contract) == (
        "La campagne « CAQES 2025 » est en cours (auto-évaluation ouverte du 2 mars 2026 au 17 avril 2026), mais "
        "l'auto-évaluation de ce contrat n'y a pas encore été ouverte : utilisez l'action « Ouvrir "
        "l'auto-évaluation » de la liste des contrats dans l'administration."
    )
    page = text(client.get(contract_url(contract)))
    assert f'href="{reverse("admin:contracts_contract_changelist")}?q={contract.ej.finess}"' in page

    services.open_current_self_evaluation(contract, acting_user=ars_staff)
    assert reason_on_page(client, contract) is None


def test_evaluators_are_told_who_may_open_it(client_for, region, contract, campaign):
    client = client_for(UserFactory(am_staff=True, region=region))
    assert reason_on_page(client, contract) == (
        "La campagne « CAQES 2025 » est en cours (auto-évaluation ouverte du 2 mars 2026 au 17 avril 2026), mais "
        "l'auto-évaluation de ce contrat n'y a pas encore été ouverte : un agent ARS de la région peut l'ouvrir "
        "(action « Ouvrir l'auto-évaluation » de l'administration)."
    )
    assert reverse("admin:contracts_contract_changelist") not in text(client.get(contract_url(contract)))


def test_establishment_users_see_the_page_as_before(client_for, member, contract, campaign):
    response = client_for(member).get(contract_url(contract))
    assert reason_on_page(client_for(member), contract) is None
    assert banner(response) == "Consultation"
    assert "Ouvrir l'auto-évaluation" not in text(response)


def test_agents_are_told_when_no_campaign_runs(client_for, ars_staff, contract):
    assert reason_on_page(client_for(ars_staff), contract) == (
        "Ce contrat n'a pas d'auto-évaluation : aucune campagne CAQES n'est en cours ni prévue pour la région "
        "Occitanie. Une campagne se crée dans l'administration (« Campagnes »)."
    )


def test_agents_are_told_when_the_campaign_opens(client_for, ars_staff, contract, campaign):
    with at(PRECAMPAIGN[0] - datetime.timedelta(days=10)):
        assert reason_on_page(client_for(ars_staff), contract) == (
            "Ce contrat n'a pas encore d'auto-évaluation : la campagne « CAQES 2025 » n'est pas encore ouverte "
            "(ouverture le 2 février 2026). À partir de cette date, utilisez l'action « Ouvrir l'auto-évaluation » "
            "de la liste des contrats dans l'administration."
        )
    with at(PRECAMPAIGN[0]):
        assert reason_on_page(client_for(ars_staff), contract) == (
            "La campagne « CAQES 2025 » est en cours (en pré-campagne, l'auto-évaluation ouvrira le 2 mars 2026), "
            "mais l'auto-évaluation de ce contrat n'y a pas encore été ouverte : utilisez l'action « Ouvrir "
            "l'auto-évaluation » de la liste des contrats dans l'administration."
        )


def test_agents_are_told_an_unsigned_contract_is_not_evaluated(client_for, ars_staff, contract, campaign):
    contract.status = ContractStatus.EN_PREPARATION
    contract.save()
    assert reason_on_page(client_for(ars_staff), contract) == (
        "Ce contrat n'a pas d'auto-évaluation : il n'est pas signé (statut « En préparation »), et seuls les "
        "contrats signés sont évalués."
    )


def test_a_contract_with_last_years_self_evaluation_only_is_explained_too(
    client_for, ars_staff, contract, campaign, region
):
    earlier = make_campaign(
        contract.contract_type,
        [region],
        name="CAQES 2024",
        year=2024,
        precampaign_start=None,
        precampaign_end=None,
        self_assessment_start=datetime.date(2025, 3, 3),
        self_assessment_deadline=datetime.date(2025, 4, 18),
    )
    SelfEvaluationFactory(contract=contract, campaign=earlier, closed=True)
    reason = reason_on_page(client_for(ars_staff), contract)
    assert reason is not None and reason.startswith("La campagne « CAQES 2025 » est en cours")
