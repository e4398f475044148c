"""The DSFR layout: same header, menu, skip links and footer everywhere, French error pages."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from ecars import views
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.contracts.factories import MembershipFactory


def test_home_lists_the_users_ej_in_the_layout(client_for, member, ej, other_ej):
    response = client_for(member).get(reverse("contracts:home"))

    assertContains(response, '<html lang="fr">', html=False)
    assertContains(response, "<title>Gestion des Contrats — Extranet e-CARS</title>", html=True)
    # The manual's name of the service, under the State's brand block.
    assertContains(response, '<p class="fr-header__service-title">Extranet e-CARS</p>', html=True)
    assertContains(response, '<p class="fr-logo">République<br>française</p>', html=True, count=2)
    for label in ("Accueil", "Mon compte", "Rafraîchir la session", "Se déconnecter"):
        assertContains(response, label)
    assertContains(response, 'href="#contenu"')
    assertContains(response, 'id="contenu"')
    assertContains(response, 'id="pied-de-page"')
    assertContains(response, "<h1>Gestion des Contrats</h1>", html=True)
    for column in ("Etablissement (EJ)", "Adresse", "Téléphone"):
        assertContains(response, column)
    assertContains(response, f"{ej.finess} - {ej.name}</a>")
    assertContains(response, f"<td>{ej.postcode} {ej.city}</td>", html=True)
    assertNotContains(response, other_ej.finess)
    # The current page is marked for assistive technologies.
    assertContains(response, 'aria-current="page">Accueil</a>')


def test_home_of_a_multi_ej_user_lists_each_ej(client_for, member, ej, other_ej):
    MembershipFactory(user=member, ej=other_ej)
    response = client_for(member).get(reverse("contracts:home"))
    assertContains(response, ej.finess)
    assertContains(response, other_ej.finess)


def test_home_of_a_user_without_ej_explains_what_to_do(client_for):
    response = client_for(UserFactory()).get(reverse("contracts:home"))
    assertContains(response, "Vous n'êtes membre d'aucune entité juridique")


def test_home_points_agency_staff_to_the_admin(client_for, ars_staff):
    response = client_for(ars_staff).get(reverse("contracts:home"))
    assertContains(response, reverse("admin:index"))


def test_home_runs_a_constant_number_of_queries(client_for, member, django_assert_num_queries):
    client = client_for(member)
    client.get(reverse("contracts:home"))  # warm-up (session, content types)
    MembershipFactory.create_batch(5, user=member)
    # session, user, count and page of the EJ list, the support region (+ the savepoint pair of
    # ATOMIC_REQUESTS inside the test transaction)
    with django_assert_num_queries(7):
        client.get(reverse("contracts:home"))
    MembershipFactory.create_batch(20, user=member)
    with django_assert_num_queries(7):
        client.get(reverse("contracts:home"))


def test_my_account_shows_identity_and_roles(client_for, member, ej):
    response = client_for(member).get(reverse("accounts:account"))
    assertContains(response, "<h1>Mon compte</h1>", html=True)
    assertContains(response, member.email)
    assertContains(response, str(ej))
    assertContains(response, "signataire")


def test_refresh_session_extends_the_session_and_returns_to_the_page(client_for, member):
    client = client_for(member)
    response = client.post(reverse("accounts:refresh_session"), {"next": reverse("accounts:account")})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:account")
    response = client.get(response["Location"])
    assertContains(response, "Votre session a été prolongée.")


def test_refresh_session_from_a_script_answers_the_seconds_left(client_for, member):
    response = client_for(member).post(reverse("accounts:refresh_session"), headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200
    assert 29 * 60 <= response.json()["seconds_left"] <= 30 * 60


def test_refresh_session_never_redirects_off_site(client_for, member):
    response = client_for(member).post(reverse("accounts:refresh_session"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("contracts:home")


def test_refresh_session_refuses_get(client_for, member):
    assert client_for(member).get(reverse("accounts:refresh_session")).status_code == 405


def test_unknown_page_shows_the_french_404_in_the_layout(client_for, member):
    response = client_for(member).get("/cette-page-n-existe-pas/")
    assert response.status_code == 404
    assertContains(response, "Page non trouvée", status_code=404)
    assertContains(response, 'id="pied-de-page"', status_code=404)
    assertContains(response, "Mon compte", status_code=404)


def test_forbidden_shows_the_french_403(rf: RequestFactory, member):
    request = rf.get("/")
    request.user = member
    response = views.permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "Accès refusé" in response.content.decode()


def test_server_error_page_renders_without_any_context():
    """The 500 page must render even when the database or the session is what failed."""
    response = views.server_error(RequestFactory().get("/"))
    content = response.content.decode()
    assert response.status_code == 500
    assert "Erreur inattendue" in content
    assert '<html lang="fr">' in content
    assert "Traceback" not in content


@pytest.mark.parametrize("url", ["/sante/"])
def test_health_check_is_public_and_touches_the_database(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


def test_security_headers_are_sent_on_every_page(client_for, member):
    response = client_for(member).get(reverse("contracts:home"))
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_login_page_uses_the_manuals_words(client):
    response = client.get(reverse("account_login"))
    for text in (
        "Connectez-vous avec votre adresse de messagerie",
        "Adresse de messagerie",
        "Mot de passe",
        "Renouveler le mot de passe",
        "Se connecter",
    ):
        assertContains(response, text)
    assertContains(response, 'autocomplete="current-password"')


def test_login_with_the_right_password_reaches_the_home_page(client, member):
    response = client.post(reverse("account_login"), {"login": member.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("contracts:home")


def test_login_with_a_wrong_password_gives_a_generic_french_message(client, member):
    response = client.post(reverse("account_login"), {"login": member.email, "password": "faux"})
    assert response.status_code == 200
    assertContains(response, "fr-alert--error")


def test_a_form_without_its_security_token_gets_a_french_explanation(member):
    from django.test import Client as StrictClient

    client = StrictClient(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("accounts:account"), {"last_name": "X"})
    assert response.status_code == 403
    assertContains(response, "Formulaire expiré", status_code=403)
    member.refresh_from_db()
    assert member.last_name != "X"


def test_signed_in_pages_are_never_cached(client_for, member):
    response = client_for(member).get(reverse("contracts:home"))
    assert "no-store" in response["Cache-Control"]


def test_the_admin_names_the_service_as_the_portal_does(client_for, ars_staff):
    response = client_for(ars_staff).get(reverse("admin:index"))
    assertContains(response, "Extranet e-CARS — administration")
    assertContains(response, "<title>Gestion des contrats et des campagnes | Extranet e-CARS</title>", html=True)
