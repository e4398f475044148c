"""The legal pages of a public service (issue 15): linked from every page's footer, the admin's included, readable
without an account, filled from the deployment's settings."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains


LEGAL_PAGES = {
    "accessibility": "Déclaration d'accessibilité",
    "legal_notice": "Mentions légales",
    "personal_data": "Données personnelles",
    "site_map": "Plan du site",
}
FOOTER_LINKS = ("Plan du site", "Accessibilité : non conforme", "Mentions légales", "Données personnelles")


@pytest.mark.parametrize("name", LEGAL_PAGES)
def test_each_legal_page_is_readable_without_an_account(client, name):
    response = client.get(reverse(name))
    assertContains(response, f"<h1>{LEGAL_PAGES[name]}</h1>", html=True)
    for label in FOOTER_LINKS:
        assertContains(response, f">{label}</a>")


def test_the_legal_notice_names_the_publisher_director_and_host_of_the_deployment(client, settings):
    settings.PUBLISHER_NAME = "ARS Occitanie"
    settings.PUBLISHER_ADDRESS = "26-28 parc Club du Millénaire, 34067 Montpellier"
    settings.PUBLICATION_DIRECTOR = "Le directeur général de l'ARS Occitanie"
    settings.HOST_NAME = "Hébergeur Souverain SAS"
    settings.HOST_ADDRESS = "1 rue du Nuage, 59000 Lille"
    response = client.get(reverse("legal_notice"))
    for text in (
        "ARS Occitanie",
        "26-28 parc Club du Millénaire, 34067 Montpellier",
        "Le directeur général de l&#x27;ARS Occitanie",
        "Hébergeur Souverain SAS",
        "1 rue du Nuage, 59000 Lille",
    ):
        assertContains(response, text)


def test_the_personal_data_page_says_what_why_how_long_who_and_the_rights(client, settings):
    settings.DPO_CONTACT = "dpo@ars.example.fr"
    settings.SERVER_LOGS_RETENTION = "six mois"
    response = client.get(reverse("personal_data"))
    for text in (
        "Base légale",
        "article 6-1-e",
        "Destinataires",
        "Durée de conservation",
        "Six mois",
        "Vos droits",
        "dpo@ars.example.fr",
        "strictement nécessaires",
        "aucun bandeau",
        "30 minutes d'inactivité",
    ):
        assertContains(response, text)


def test_the_accessibility_statement_follows_the_rgaa_model(client):
    response = client.get(reverse("accessibility"))
    for heading in (
        "État de conformité",
        "Résultats des tests",
        "Contenus non accessibles",
        "Établissement de cette déclaration",
        "Retour d&#x27;information et contact",
        "Voies de recours",
    ):
        assertContains(response, f"<h2>{heading}</h2>", html=True)
    assertContains(response, "non conforme")
    assertContains(response, "Défenseur des droits")


def test_only_strictly_necessary_cookies_are_set_along_a_visit(client_for, member, settings):
    client = client_for(member)
    for url in (reverse("contracts:home"), reverse("site_map"), reverse("accounts:account")):
        client.get(url)
    assert set(client.cookies) <= {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, "messages"}


@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/page-qui-n-existe-pas/"])
def test_every_portal_page_links_the_legal_pages_in_its_footer(client, url):
    response = client.get(url, follow=True)
    for label in FOOTER_LINKS:
        assertContains(response, f">{label}</a>", status_code=response.status_code)


def test_every_admin_page_links_the_legal_pages_in_its_footer(client_for, ars_staff):
    client = client_for(ars_staff)
    for response in (client.get("/admin/"), client.get("/admin/contracts/entitejuridique/")):
        for label in FOOTER_LINKS:
            assertContains(response, f">{label}</a>")


def test_the_500_page_links_the_legal_pages(rf):
    from ecars import views  # noqa: PLC0415

    response = views.server_error(rf.get("/"))
    for label in FOOTER_LINKS:
        assert f">{label}</a>".encode() in response.content


def test_favicon_ico_answers_with_the_dsfr_favicon_for_everyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith(".ico")
    assert "dsfr/dist/favicon/favicon" in response["Location"]
