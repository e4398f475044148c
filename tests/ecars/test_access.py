"""Deny by default: generated over the URL configuration, so that every new page is covered."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import resolve, reverse

from tests.urlconf import all_routes


# The pages an anonymous visitor may open: the login and password-renewal flow, allauth's
# informational pages, the admin login, and the health check. Any addition must be reviewed here.
PUBLIC_ROUTES = {
    "account_complete_password_reset",
    "account_confirm_email",
    "account_confirm_login_code",
    "account_confirm_password_reset_code",
    "account_email_verification_sent",
    "account_inactive",
    "account_login",
    "account_logout",
    "account_password_reset_completed",
    "account_reset_password",
    "account_signup",
    "accounts:accept_invitation",
    "accounts:accept_invitation_token",
    "accounts:reset_code_verified",
    "accessibility",
    "admin:login",
    "favicon",
    "health",
    "legal_notice",
    "mfa_authenticate",
    "personal_data",
    "site_map",
}
ROUTES = all_routes()
PRIVATE_ROUTES = [route for route in ROUTES if route.name not in PUBLIC_ROUTES]
LOGIN_PATHS = {reverse("account_login"), reverse("admin:login")}


def test_public_routes_are_reviewed():
    """The allow-list names existing pages only, so that it cannot silently rot."""
    assert PUBLIC_ROUTES <= {route.name for route in ROUTES}


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("route", PRIVATE_ROUTES, ids=str)
def test_anonymous_requests_are_sent_to_the_login(client, route, method):
    """Every page outside the allow-list redirects an anonymous visitor to the login, and back afterwards."""
    response = getattr(client, method)(route.path)
    assert response.status_code == 302, f"{route.path} answered {response.status_code}"
    location = urlsplit(response["Location"])
    assert location.path in LOGIN_PATHS
    assert parse_qs(location.query)["next"] == [route.path]


@pytest.mark.parametrize("route", sorted(PUBLIC_ROUTES))
def test_public_pages_open_without_error(client, route):
    """Public pages render (or step back within the public flow); logging out leads to the home page."""
    response = client.get(route_path(route))
    assert response.status_code in (200, 301, 302)
    if route == "favicon":  # the DSFR's, a static file
        assert response["Location"].startswith(settings.STATIC_URL)
    elif response.status_code != 200:
        assert resolve(urlsplit(response["Location"]).path).view_name in PUBLIC_ROUTES | {"contracts:home"}


def route_path(name):
    return next(route.path for route in ROUTES if route.name == name)
