"""Refused accesses are attributable (issue 9, item 12).

Every 403/404 answered to a signed-in user is a line of the `ecars.security` log (who, from where,
what); when the URL names another EJ's object, an `ACCESS_REFUSED` audit event carries that EJ, so
the ARS of its region sees a member probing. The answer itself stays a 404.
"""

import datetime
import logging
import uuid

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from audit.enums import EventType
from audit.models import AuditEvent
from tests.contracts.factories import ContractFactory
from tests.contracts.test_isolation import ROUTES as EJ_ROUTES
from tests.contracts.test_isolation import objects_of, url_for
from tests.evaluation.factories import IndicatorValueFactory, SelfEvaluationFactory


def refusals():
    return list(AuditEvent.objects.filter(event_type=EventType.ACCESS_REFUSED).order_by("pk"))


def security_records(caplog):
    return [r for r in caplog.records if r.name == "ecars.security"]


@pytest.fixture
def caplog(caplog):
    caplog.set_level(logging.INFO, logger="ecars.security")
    return caplog


def test_a_member_opening_another_ejs_contract_is_logged_and_audited(client_for, member, other_ej, caplog):
    contract = ContractFactory(ej=other_ej)
    url = reverse("contracts:contract_detail", args=[contract.public_id])

    response = client_for(member).get(url + "?code=123456", REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 404
    [record] = security_records(caplog)
    assert record.levelno == logging.WARNING
    assert (record.user_id, record.user_public_id) == (member.pk, str(member.public_id))
    assert (record.client_ip, record.method, record.path, record.status) == ("198.51.100.7", "GET", url, 404)
    assert record.ej_public_id == str(other_ej.public_id)
    message = record.getMessage()
    for part in (str(member.public_id), "198.51.100.7", url, f"contract:{contract.public_id}"):
        assert part in message
    assert "123456" not in message  # the query string may carry a code: never logged
    [event] = refusals()
    assert (event.actor, event.ej, event.ip_address) == (member, other_ej, "198.51.100.7")
    assert (event.object_type, event.object_id) == ("contracts.Contract", str(contract.public_id))
    assert event.data == {"method": "GET", "path": url, "status": 404}


def test_a_404_on_an_identifier_that_names_nothing_is_logged_only(client_for, member, caplog):
    url = reverse("contracts:contract_detail", args=[uuid.uuid4()])

    assert client_for(member).get(url).status_code == 404

    [record] = security_records(caplog)
    assert record.levelno == logging.INFO
    assert (record.user_id, record.client_ip, record.path, record.status) == (member.pk, "127.0.0.1", url, 404)
    assert refusals() == []


def test_a_404_inside_ones_own_ej_is_not_an_intrusion(client_for, member, ej, caplog):
    """An unknown question of one's own self-evaluation: a log line, no audit event."""
    self_evaluation = SelfEvaluationFactory(contract=ContractFactory(ej=ej))
    IndicatorValueFactory(self_evaluation=self_evaluation)
    url = reverse("evaluation:question", args=[self_evaluation.public_id, "999.9"])

    assert client_for(member).get(url).status_code == 404

    assert len(security_records(caplog)) == 1
    assert refusals() == []


def test_probing_writes_at_most_one_row_per_minute_and_counts_the_others(client_for, member, other_ej):
    contracts = ContractFactory.create_batch(3, ej=other_ej)
    client = client_for(member)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for number in range(100):
            contract = contracts[number % 3]
            assert client.get(reverse("contracts:contract_detail", args=[contract.public_id])).status_code == 404
        assert len(refusals()) == 1
        traveller.shift(datetime.timedelta(seconds=61))
        client.get(reverse("contracts:ej_detail", args=[other_ej.public_id]))

    [_, second] = refusals()
    assert second.data["suppressed"] == 99
    assert second.ej == other_ej


def test_agency_staff_of_another_region_are_attributed_too(client_for, other_region, other_ej, caplog):
    from tests.accounts.factories import UserFactory

    agent = UserFactory(ars_staff=True, region=other_region)
    url = reverse("contracts:ej_detail", args=[other_ej.public_id])

    assert client_for(agent).get(url).status_code == 404

    [event] = refusals()
    assert (event.actor, event.ej) == (agent, other_ej)


def test_anonymous_404_are_not_logged_as_refusals(client, caplog):
    assert client.get("/cette-page-n-existe-pas/").status_code == 404
    assert security_records(caplog) == []


def test_a_refused_form_is_logged_too(member, caplog):
    """A 403 (here: a form without its security token) is a refusal like a 404."""
    from django.test import Client as StrictClient

    client = StrictClient(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(reverse("accounts:account"), {"last_name": "X"}).status_code == 403
    [record] = security_records(caplog)
    assert (record.user_id, record.status, record.method) == (member.pk, 403, "POST")


def test_log_lines_cannot_be_forged_through_the_path(client_for, member, caplog):
    client_for(member).get("/inconnu/%0D%0A2026-01-01 INFO faux/")
    [record] = security_records(caplog)
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


def test_secret_arguments_of_a_path_are_not_logged(client_for, member, caplog):
    """An e-mail confirmation key is a secret sent by e-mail: a 404 on it does not write it down."""
    key = "MTI:1vQk3x:Zr8-secret-key-value"
    response = client_for(member).post(reverse("account_confirm_email", args=[key]))
    assert response.status_code == 404
    [record] = security_records(caplog)
    assert key not in record.getMessage()
    assert record.path == "/accounts/confirm-email/[secret]/"


@pytest.mark.parametrize("route", EJ_ROUTES, ids=str)
def test_every_page_of_another_ej_is_attributed_to_that_ej(client_for, member, other_ej, route):
    """Generated like the isolation matrix: each argument kind is known to the refusal audit."""
    url = url_for(route, objects_of(other_ej))
    response = client_for(member).get(url)
    if response.status_code == 405:
        response = client_for(member).post(url, {})
    assert response.status_code == 404
    [event] = refusals()
    assert (event.actor, event.ej) == (member, other_ej)


def test_the_ars_of_the_probed_ejs_region_sees_the_attempt_in_the_audit_list(client_for, member, other_ej, ars_staff):
    contract = ContractFactory(ej=other_ej)
    client_for(member).get(reverse("contracts:contract_detail", args=[contract.public_id]))

    response = client_for(ars_staff).get(reverse("admin:audit_auditevent_changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "accès refusé" in content
    assert str(other_ej) in content
