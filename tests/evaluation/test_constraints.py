"""The invariants of the domain model hold in the database itself, whatever code writes."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from accounts.enums import UserKind
from evaluation.enums import AnswerLevel, SelfEvaluationState
from evaluation.models import IndicatorValue, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


def assert_refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_self_evaluation_per_contract_and_campaign():
    self_evaluation = SelfEvaluationFactory()
    assert_refused(
        lambda: SelfEvaluation.objects.create(contract=self_evaluation.contract, campaign=self_evaluation.campaign)
    )
    assert SelfEvaluation.objects.count() == 1


def test_the_same_contract_has_one_self_evaluation_per_campaign():
    contract = ContractFactory()
    SelfEvaluationFactory(contract=contract)
    SelfEvaluationFactory(contract=contract)
    assert contract.self_evaluations.count() == 2


def test_one_value_per_self_evaluation_and_indicator_for_the_ej():
    value = IndicatorValueFactory()
    assert_refused(
        lambda: IndicatorValue.objects.create(self_evaluation=value.self_evaluation, indicator=value.indicator)
    )
    assert IndicatorValue.objects.count() == 1


def test_one_value_per_self_evaluation_indicator_and_et():
    self_evaluation = SelfEvaluationFactory()
    indicator = NodeFactory(
        indicator=True, answer_level=AnswerLevel.ET, referential=self_evaluation.campaign.referential
    )
    site_a = EtablissementFactory(ej=self_evaluation.contract.ej)
    site_b = EtablissementFactory(ej=self_evaluation.contract.ej)
    IndicatorValue.objects.create(self_evaluation=self_evaluation, indicator=indicator, etablissement=site_a)
    IndicatorValue.objects.create(self_evaluation=self_evaluation, indicator=indicator, etablissement=site_b)
    assert_refused(
        lambda: IndicatorValue.objects.create(
            self_evaluation=self_evaluation, indicator=indicator, etablissement=site_a
        )
    )
    assert IndicatorValue.objects.count() == 2


def test_not_applicable_requires_a_justification():
    assert_refused(lambda: IndicatorValueFactory(not_applicable=True, not_applicable_reason=""))
    assert IndicatorValueFactory(not_applicable_justified=True).is_filled


def test_a_closed_self_evaluation_has_a_closing_date():
    assert_refused(lambda: SelfEvaluationFactory(state=SelfEvaluationState.CLOTUREE, closed_at=None))
    assert SelfEvaluationFactory(closed=True).is_closed


def test_campaign_deadline_cannot_precede_opening():
    today = datetime.date(2026, 3, 2)
    assert_refused(
        lambda: CampaignFactory(self_assessment_start=today, self_assessment_deadline=today - datetime.timedelta(1))
    )


def test_node_codes_are_unique_within_a_referential():
    node = NodeFactory(code="1.1")
    assert_refused(lambda: NodeFactory(code="1.1", referential=node.referential))
    NodeFactory(code="1.1")  # another referential


def test_a_choice_list_indicator_needs_choices():
    assert_refused(lambda: NodeFactory(value_type="liste", choices=[]))


def test_one_membership_per_user_and_ej(member, ej):
    assert_refused(lambda: MembershipFactory(user=member, ej=ej))


def test_email_addresses_are_unique_whatever_their_case():
    UserFactory(email="contact@chu.fr")
    assert_refused(lambda: UserFactory(email="CONTACT@chu.fr"))


def test_agency_staff_must_have_a_region():
    assert_refused(lambda: UserFactory(kind=UserKind.ARS, is_staff=True, region=None))
