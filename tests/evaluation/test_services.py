import pytest
from django.utils import timezone

from audit.enums import EventType
from audit.models import AuditEvent
from ecars.lib.http import RequestContext
from evaluation.enums import AnswerLevel
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import IndicatorValue, SelfEvaluation, Transition
from evaluation.services import TransitionRefused, create_self_evaluation, open_self_evaluation, transition
from tests.contracts.factories import ContractFactory, EtablissementFactory
from tests.evaluation.factories import CampaignFactory, NodeFactory, SelfEvaluationFactory


def test_transition_changes_state_and_logs_who_when_from_to_why(member):
    self_evaluation = SelfEvaluationFactory(state=State.AUTO_EVALUATION)
    result = transition(
        self_evaluation, to_state=State.CLOTUREE, acting_user=member, context=RequestContext(ip_address="10.0.0.1")
    )

    self_evaluation.refresh_from_db()
    assert result.state == self_evaluation.state == State.CLOTUREE
    assert self_evaluation.closed_by == member
    assert self_evaluation.closed_at is not None
    log = Transition.objects.get(self_evaluation=self_evaluation)
    assert (log.from_state, log.to_state, log.user) == (State.AUTO_EVALUATION, State.CLOTUREE, member)
    event = AuditEvent.objects.get(event_type=EventType.STATE_CHANGED)
    assert event.actor == member
    assert event.ej == self_evaluation.contract.ej
    assert event.ip_address == "10.0.0.1"
    assert event.data == {"from": "auto_evaluation", "to": "cloturee", "reason": ""}


@pytest.mark.parametrize(
    "from_state,to_state",
    [
        (State.PRE_CAMPAGNE, State.CLOTUREE),
        (State.AUTO_EVALUATION, State.DEFINITIVE),
        (State.DEFINITIVE, State.AUTO_EVALUATION),
    ],
)
def test_transitions_outside_the_lifecycle_are_refused_and_change_nothing(from_state, to_state, member):
    closed_at = timezone.now() if from_state in State.closed_states() else None
    self_evaluation = SelfEvaluationFactory(state=from_state, closed_at=closed_at)
    with pytest.raises(TransitionRefused, match="Impossible de passer"):
        transition(self_evaluation, to_state=to_state, acting_user=member)
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == from_state
    assert not Transition.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_source_state_is_read_from_the_database_not_from_the_callers_copy(member):
    self_evaluation = SelfEvaluationFactory(state=State.AUTO_EVALUATION)
    stale_copy = type(self_evaluation).objects.get(pk=self_evaluation.pk)
    transition(self_evaluation, to_state=State.CLOTUREE, acting_user=member)
    with pytest.raises(TransitionRefused):
        transition(stale_copy, to_state=State.CLOTUREE, acting_user=member)
    assert Transition.objects.count() == 1


def test_reopening_requires_a_reason(ars_staff):
    self_evaluation = SelfEvaluationFactory(closed=True)
    with pytest.raises(TransitionRefused, match="motif"):
        transition(self_evaluation, to_state=State.AUTO_EVALUATION, acting_user=ars_staff, reason="  ")
    transition(self_evaluation, to_state=State.AUTO_EVALUATION, acting_user=ars_staff, reason="Pièce oubliée")
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == State.AUTO_EVALUATION
    assert Transition.objects.get().reason == "Pièce oubliée"


def test_each_contradictory_period_is_numbered(ars_staff):
    self_evaluation = SelfEvaluationFactory(closed=True, state=State.RAPPORT_ENVOYE)
    transition(self_evaluation, to_state=State.CONTRADICTOIRE, acting_user=ars_staff)
    transition(self_evaluation, to_state=State.EN_EVALUATION, acting_user=ars_staff)
    transition(self_evaluation, to_state=State.RAPPORT_ENVOYE, acting_user=ars_staff)
    transition(self_evaluation, to_state=State.CONTRADICTOIRE, acting_user=ars_staff)
    self_evaluation.refresh_from_db()
    assert self_evaluation.contradictory_round == 2


def test_create_self_evaluation_creates_one_value_per_ej_question_and_per_et_question():
    contract = ContractFactory()
    sites = EtablissementFactory.create_batch(2, ej=contract.ej)
    contract.etablissements.set(sites)
    campaign = CampaignFactory(contract_type=contract.contract_type)
    NodeFactory(referential=campaign.referential, code="1")  # a grouping node: no value
    ej_question = NodeFactory(referential=campaign.referential, taux=True, code="1.a")
    et_question = NodeFactory(referential=campaign.referential, oui_non=True, code="1.b", answer_level=AnswerLevel.ET)

    self_evaluation = create_self_evaluation(contract=contract, campaign=campaign)

    assert self_evaluation.state == State.PRE_CAMPAGNE
    values = IndicatorValue.objects.filter(self_evaluation=self_evaluation)
    assert sorted((v.indicator.code, v.etablissement_id) for v in values) == sorted(
        [("1.a", None), ("1.b", sites[0].pk), ("1.b", sites[1].pk)]
    )
    assert values.get(indicator=ej_question).target == "80"
    assert values.filter(indicator=et_question).count() == 2
    assert not any(v.is_filled for v in values)


def test_opening_a_self_evaluation_creates_it_once_and_puts_it_in_auto_evaluation():
    campaign = CampaignFactory()
    NodeFactory(referential=campaign.referential, indicator=True)
    contract = ContractFactory(contract_type=campaign.contract_type)
    opened = open_self_evaluation(contract=contract, campaign=campaign)
    again = open_self_evaluation(contract=contract, campaign=campaign)
    assert opened.pk == again.pk
    assert again.state == State.AUTO_EVALUATION
    assert SelfEvaluation.objects.filter(contract=contract).count() == 1
    assert Transition.objects.filter(self_evaluation=opened).count() == 1
    assert IndicatorValue.objects.filter(self_evaluation=opened).count() == 1
