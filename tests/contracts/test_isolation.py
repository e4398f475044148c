"""Isolation between EJ, generated over the URL configuration: every page of another EJ is a 404.

Our URL arguments are public identifiers named after their model (ej, contract, etablissement,
self_evaluation…). A new page with a new argument name fails here until its objects are added to
`objects_of` below: nothing escapes the matrix.
"""

import pytest
from django.apps import apps
from django.urls import reverse

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.evaluation.factories import AttachmentFactory, IndicatorValueFactory, SelfEvaluationFactory
from tests.evaluation.test_reports import SentReportFactory
from tests.urlconf import all_routes


OUR_NAMESPACES = ("contracts:", "evaluation:", "documents:", "accounts:")
# Arguments that are not an object of an EJ: the invitation link carries a secret token.
NOT_EJ_OBJECTS = {"accounts:accept_invitation_token"}
ROUTES = [
    r for r in all_routes() if r.kwarg_names and r.name.startswith(OUR_NAMESPACES) and r.name not in NOT_EJ_OBJECTS
]


def objects_of(ej):
    """One object of each kind reachable from a URL, all belonging to `ej`."""
    etablissement = EtablissementFactory(ej=ej)
    contract = ContractFactory(ej=ej)
    contract.etablissements.add(etablissement)
    self_evaluation = SelfEvaluationFactory(contract=contract)
    value = IndicatorValueFactory(self_evaluation=self_evaluation)
    attachment = AttachmentFactory(document__ej=ej, indicator_value=value)
    report = SentReportFactory(self_evaluation=self_evaluation)
    return {
        "ej": ej.public_id,
        "contract": contract.public_id,
        "etablissement": etablissement.public_id,
        "self_evaluation": self_evaluation.public_id,
        "code": value.indicator.code,
        "document": attachment.document.public_id,
        "version": report.version,
    }


def url_for(route, objects):
    unknown = set(route.kwarg_names) - set(objects)
    assert not unknown, f"{route.name}: add {unknown} to objects_of() in this test"
    return reverse(route.name, kwargs={name: objects[name] for name in route.kwarg_names})


def database_snapshot():
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_every_page_with_an_argument_is_covered():
    assert {r.name for r in ROUTES} >= {"contracts:ej_detail", "contracts:contract_detail", "evaluation:indicators"}


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_member_of_ej_a_gets_404_on_every_page_of_ej_b(client_for, member, other_ej, route):
    """The objects of another EJ answer 404 to GET and POST, never 403, and nothing changes."""
    url = url_for(route, objects_of(other_ej))
    client = client_for(member)
    before = database_snapshot()
    answers = {client.get(url).status_code, client.post(url, {}).status_code}
    assert answers <= {404, 405}, f"{url}: {answers}"
    assert 404 in answers
    after = database_snapshot()
    after.pop("sessions.Session", None), before.pop("sessions.Session", None)
    # The one row allowed: the refusal itself, audited with EJ B (tests/ecars/test_refused_access.py).
    refusals = AuditEvent.objects.filter(event_type=EventType.ACCESS_REFUSED, ej=other_ej).count()
    assert after.pop("audit.AuditEvent") - before.pop("audit.AuditEvent") == refusals
    # With, for the first event of EJ B's audit chain, that chain's head (audit.models.AuditChainHead).
    assert after.pop("audit.AuditChainHead") - before.pop("audit.AuditChainHead") <= refusals
    assert after == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_member_of_both_ej_reaches_the_pages(client_for, ej, other_ej, route):
    """The same URLs, for a user of both EJ (a « direction commune »), are not 404: the matrix is sound."""
    both = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE, is_admin=True).user
    MembershipFactory(user=both, ej=other_ej, role=MembershipRole.SIGNATAIRE, is_admin=True)
    url = url_for(route, objects_of(other_ej))
    assert client_for(both).get(url).status_code != 404, url


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_agency_staff_of_another_region_get_404(client_for, other_region, other_ej, route):
    """ARS staff are limited to their region."""
    agent = UserFactory(ars_staff=True, region=other_region)
    url = url_for(route, objects_of(other_ej))
    client = client_for(agent)
    answers = {client.get(url).status_code, client.post(url, {}).status_code}
    assert answers <= {404, 405}
    assert 404 in answers
