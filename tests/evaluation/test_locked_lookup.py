"""A save's locked lookup of its self-evaluation, written in SQL, follows `SelfEvaluation.objects.for_user`'s rule.

`get_self_evaluation_for_user(…, lock=True)` answers an establishment member from
`SelfEvaluation.objects.locked_for_member` (one statement, no ORM compiling) and everyone else from
`for_user`: for every kind of user, it must find what `for_user` finds, with the same role and the same
related rows, and refuse (404) what `for_user` does not find.
"""

import uuid

import pytest
from django.db import connection
from django.http import Http404
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from contracts.enums import MembershipRole
from evaluation.models import SelfEvaluation
from evaluation.views.common import get_self_evaluation_for_user
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory, RegionFactory
from tests.evaluation.factories import SelfEvaluationFactory


pytestmark = pytest.mark.django_db


def _locked(user, public_id):
    request = RequestFactory().post("/")
    request.user = user
    return get_self_evaluation_for_user(request, public_id, lock=True)


@pytest.fixture
def self_evaluation():
    return SelfEvaluationFactory()


def _users(self_evaluation):
    ej = self_evaluation.contract.ej
    other = SelfEvaluationFactory()
    users = {
        f"member ({role})": MembershipFactory(ej=ej, role=role).user
        for role in (MembershipRole.LECTEUR, MembershipRole.CONTRIBUTEUR, MembershipRole.SIGNATAIRE)
    }
    users["member of another EJ"] = MembershipFactory(ej=other.contract.ej).user
    users["member, deactivated"] = MembershipFactory(ej=ej, user__is_active=False).user
    users["without EJ"] = UserFactory()
    users["ARS agent of the region"] = UserFactory(ars_staff=True, region=ej.region)
    users["ARS agent of another region"] = UserFactory(ars_staff=True, region=RegionFactory())
    users["national administrator"] = UserFactory(national_admin=True)
    return users


def test_the_locked_lookup_finds_what_for_user_finds_for_every_kind_of_user(self_evaluation):
    for kind, user in _users(self_evaluation).items():
        expected = SelfEvaluation.objects.for_user(user).filter(pk=self_evaluation.pk).first()
        if expected is None:
            with pytest.raises(Http404):
                _locked(user, self_evaluation.public_id)
            continue
        found = _locked(user, self_evaluation.public_id)
        assert found.pk == expected.pk, kind
        # A national administrator's has no role (`for_user` leaves the queryset as it is).
        assert getattr(found, "member_role", None) == getattr(expected, "member_role", None), kind
        assert found.read_for_user_id == user.pk, kind


def test_the_member_lookup_brings_its_rows_in_one_locking_statement(self_evaluation):
    user = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.SIGNATAIRE).user
    with CaptureQueriesContext(connection) as queries:
        found = _locked(user, self_evaluation.public_id)
        # What the save reads of it asks nothing more.
        loaded = (found.campaign.referential, found.contract.ej, found.state, found.campaign.year)
    assert len(queries) == 1
    assert queries[0]["sql"].endswith("FOR UPDATE OF se"), queries[0]["sql"]
    orm = SelfEvaluation.objects.select_related("campaign__referential", "contract__ej").get(pk=self_evaluation.pk)
    assert loaded == (orm.campaign.referential, orm.contract.ej, orm.state, orm.campaign.year)
    # Every field read as the ORM reads it (converters applied: dates, decimals, UUIDs, JSON).
    for instance, reference in (
        (found, orm),
        (found.campaign, orm.campaign),
        (found.campaign.referential, orm.campaign.referential),
        (found.contract, orm.contract),
        (found.contract.ej, orm.contract.ej),
    ):
        for field in type(reference)._meta.concrete_fields:
            assert getattr(instance, field.attname) == getattr(reference, field.attname), field
            assert type(getattr(instance, field.attname)) is type(getattr(reference, field.attname)), field


def test_an_unknown_self_evaluation_is_a_404_for_a_member(self_evaluation):
    user = MembershipFactory(ej=self_evaluation.contract.ej).user
    with pytest.raises(Http404):
        _locked(user, uuid.uuid4())
