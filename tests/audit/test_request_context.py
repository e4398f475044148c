"""Every audit event names the request that wrote it: the same id as the response's and the access log's."""

from django.urls import reverse

from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import log_in


def test_the_event_carries_the_responses_request_id_and_the_clients_address(client):
    user = UserFactory()
    response = log_in(client, user.email, DEFAULT_PASSWORD)
    event = AuditEvent.objects.get(event_type=EventType.LOGIN_SUCCEEDED)
    assert len(response["X-Request-ID"]) == 32
    assert (event.request_id, event.ip_address) == (response["X-Request-ID"], "127.0.0.1")


def test_the_proxys_request_id_is_kept_when_well_formed(client):
    user = UserFactory()
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": DEFAULT_PASSWORD},
        HTTP_X_REQUEST_ID="nginx-7f3a9c2e41",
    )
    assert response["X-Request-ID"] == "nginx-7f3a9c2e41"
    assert AuditEvent.objects.get(event_type=EventType.LOGIN_SUCCEEDED).request_id == "nginx-7f3a9c2e41"


def test_a_malformed_request_id_is_replaced(client):
    response = client.get(reverse("account_login"), HTTP_X_REQUEST_ID="<script>\r\nX-Evil: 1")
    assert response["X-Request-ID"] != "<script>\r\nX-Evil: 1"
    assert len(response["X-Request-ID"]) == 32
