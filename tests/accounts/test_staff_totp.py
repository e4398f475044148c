"""Agents reach nothing with their password alone: every page, the portal's included, needs TOTP (issue 9).

Generated over the URL configuration, so that a new page is covered at once.
"""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.urls import reverse

from accounts.middleware import StaffRequireTOTPMiddleware
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import log_in
from tests.conftest import Client
from tests.documents.factories import DocumentFactory
from tests.urlconf import all_routes


ROUTES = all_routes()
SET_UP = reverse("mfa_activate_totp")
VERIFY = reverse("mfa_reauthenticate")


def signed_in_with_password_only(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(params=["ars_staff", "am_staff", "omedit_staff", "national_admin"])
def agent(request, region):
    traits = {request.param: True}
    if request.param != "national_admin":
        traits["region"] = region
    return UserFactory(**traits)


@pytest.mark.parametrize("method", ["get", "post"])
def test_without_totp_every_page_leads_to_its_set_up(agent, method):
    client = signed_in_with_password_only(agent)
    for route in ROUTES:
        if route.name in StaffRequireTOTPMiddleware.SET_UP:
            continue
        response = getattr(client, method)(route.path)
        assert response.status_code == 302 and response["Location"] == SET_UP, f"{route.name}: {response.status_code}"


@pytest.mark.parametrize("method", ["get", "post"])
def test_with_totp_not_used_in_this_session_every_page_asks_for_the_code(agent, method):
    TOTP.activate(agent, generate_totp_secret())
    client = signed_in_with_password_only(agent)
    for route in ROUTES:
        if route.name in StaffRequireTOTPMiddleware.VERIFY:
            continue
        response = getattr(client, method)(route.path)
        assert response.status_code == 302, f"{route.name}: {response.status_code}"
        assert response["Location"].startswith(VERIFY), f"{route.name}: {response['Location']}"


def test_an_agent_without_totp_cannot_download_the_regions_documents(ars_staff, ej):
    """The attack: the password alone downloaded the region's documents on the portal."""
    document = DocumentFactory(ej=ej)
    client = signed_in_with_password_only(ars_staff)
    response = client.get(reverse("documents:download", args=[document.public_id]))
    assert response.status_code == 302
    assert response["Location"] == SET_UP


def test_establishment_users_are_not_asked_for_totp(client_for, member):
    response = client_for(member).get(reverse("contracts:home"))
    assert response.status_code == 200


def test_setting_totp_up_opens_the_pages_in_the_same_session(ars_staff):
    """Setting TOTP up takes a valid code: the session then counts as verified."""
    client = Client()
    assert log_in(client, ars_staff.email, DEFAULT_PASSWORD)["Location"] == reverse("contracts:home")
    assert client.get(reverse("contracts:home"))["Location"] == SET_UP
    # allauth asks for the password again before any change of the second factor.
    reauthenticate = client.get(SET_UP)["Location"]
    assert reauthenticate.startswith(reverse("account_reauthenticate"))
    assert client.post(reauthenticate, {"password": DEFAULT_PASSWORD})["Location"] == SET_UP
    page = client.get(SET_UP)
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(SET_UP, {"code": format_hotp_value(hotp_value(secret, int(time.time()) // 30))})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=ars_staff, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("contracts:home")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200
