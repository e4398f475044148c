"""One abilities object per self-evaluation and user (evaluation/perms.py): what the tree, the services and the
pages read to know whether this user may edit this question now."""

import datetime

import pytest
from django.utils import timezone

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from evaluation import services
from evaluation.enums import FilledBy, SelfEvaluationState
from evaluation.perms import Abilities, abilities_for
from evaluation.tree import GREY, build_tree
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory
from tests.evaluation.factories import IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


ROLES = ["lecteur", "contributeur", "signataire", "agent", "autre"]
SITUATIONS = ["ouverte", "pre_campagne", "apres_la_date_limite", "prolongee", "cloturee"]
WRITERS = {"contributeur", "signataire"}
OPEN = {"ouverte", "prolongee"}


def self_evaluation_in(situation):
    today = timezone.localdate()
    self_evaluation = SelfEvaluationFactory()
    campaign = self_evaluation.campaign
    if situation == "pre_campagne":
        self_evaluation.state = SelfEvaluationState.PRE_CAMPAGNE
    elif situation in ("apres_la_date_limite", "prolongee"):
        campaign.self_assessment_start = today - datetime.timedelta(days=9)
        campaign.self_assessment_deadline = today - datetime.timedelta(days=1)
        campaign.save()
        if situation == "prolongee":
            self_evaluation.extended_until = today + datetime.timedelta(days=5)
    elif situation == "cloturee":
        self_evaluation.state = SelfEvaluationState.CLOTUREE
        self_evaluation.closed_at = timezone.now()
    self_evaluation.save()
    return self_evaluation


def user_with(role, self_evaluation):
    ej = self_evaluation.contract.ej
    if role == "agent":
        return UserFactory(ars_staff=True, region=ej.region)
    if role == "autre":
        return MembershipFactory(role=MembershipRole.SIGNATAIRE).user  # a signataire of another EJ
    return MembershipFactory(ej=ej, role=role).user


@pytest.mark.parametrize("filled_by", FilledBy.values)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("situation", SITUATIONS)
def test_edit_is_writing_open_to_the_user_on_a_question_of_the_establishment(situation, role, filled_by):
    """A contributeur or signataire of the EJ edits a question the establishment answers while the
    self-evaluation is open to writing (state and calendar, extension included): the tree's dot and the
    service say the same."""
    self_evaluation = self_evaluation_in(situation)
    value = IndicatorValueFactory(
        self_evaluation=self_evaluation,
        indicator=NodeFactory(referential=self_evaluation.campaign.referential, oui_non=True, filled_by=filled_by),
    )
    user = user_with(role, self_evaluation)
    expected = role in WRITERS and situation in OPEN and filled_by == FilledBy.ETABLISSEMENT

    can = abilities_for(self_evaluation, user)
    [question] = build_tree(self_evaluation, can=can).questions
    assert (can.edit(value), can.edit(value.indicator), can.edit(question)) == (expected, expected, expected)
    assert (question.dot != GREY) is expected

    answer = {"value": "1", "not_applicable": False, "not_applicable_reason": "", "comment": ""}
    if expected:
        saved = services.save_answer(value, acting_user=user, expected_version=1, answer=answer)
        assert saved.value == "1"
    else:
        with pytest.raises(services.WriteRefused):
            services.save_answer(value, acting_user=user, expected_version=1, answer=answer)
        value.refresh_from_db()
        assert value.value == ""
        assert AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED, actor=user).count() == 1


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("situation", SITUATIONS)
def test_the_powers_over_the_whole_self_evaluation(situation, role):
    """Writers write while it is open; only signataires close it and confide questions; the banner says
    « Auto-Evaluation » to those who write now, « Consultation » to everybody else."""
    self_evaluation = self_evaluation_in(situation)
    can = abilities_for(self_evaluation, user_with(role, self_evaluation))
    write = role in WRITERS and situation in OPEN
    signataire = write and role == "signataire"
    # An ARS agent of the region decides for the ARS once the self-evaluation is closed (issue 12).
    evaluation = {"body": "ars", "evaluating": situation == "cloturee"} if role == "agent" else {}
    assert can == Abilities(write=write, close=signataire, assign=signataire, **evaluation)
    assert can.banner == ("Auto-Evaluation" if write else "Consultation")


def test_the_abilities_cost_one_query_whatever_the_number_of_questions(member, ej, django_assert_num_queries):
    """The role in the EJ is asked once; each question is then decided without a query."""
    self_evaluation = SelfEvaluationFactory(contract__ej=ej)
    values = IndicatorValueFactory.create_batch(5, self_evaluation=self_evaluation)
    with django_assert_num_queries(1):
        can = abilities_for(self_evaluation, member)
    values = [type(value).objects.select_related("indicator").get(pk=value.pk) for value in values]
    with django_assert_num_queries(0):
        assert all(can.edit(value) for value in values)
