"""Malformed requests answer 400 or 404, never 500 (issue 9, item 10).

NUL bytes are the attacker's favourite: PostgreSQL refuses them in text, so a NUL that reaches a
query is a 500. The matrix below is generated over the URL configuration: every page, for three
personas (anonymous, a member of the EJ, an ARS agent signed in with TOTP), with a NUL in the
query string, in form fields (multipart and urlencoded) and in the path.
"""

import re
from urllib.parse import urlencode

import pytest
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode as django_urlencode

from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD
from tests.accounts.helpers import log_in
from tests.conftest import Client
from tests.contracts.test_isolation import objects_of
from tests.urlconf import all_routes


ROUTES = all_routes()
PERSONAS = ("anonymous", "member", "ars_staff")
NUL_VALUE = "x\x00y"
# Parameters our pages and the admin read, plus a NUL in a parameter's name.
QUERY_NAMES = ("q", "p", "o", "e", "page", "et", "mes-questions", "next", "sort", "_changelist_filters", "\x00")
# Form fields our views read directly (not through a form), plus whatever the page's own forms hold.
FORM_NAMES = (
    "session",
    "document",
    "jeton",
    "et",
    "sha256",
    "next",
    "login",
    "password",
    "email",
    "code",
    "password1",
    "password2",
    "action",
    "_selected_action",
    "\x00",
)
_FIELD_NAME = re.compile(rb'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', re.IGNORECASE)


def _admin_object_id(route):
    """The admin's change pages take a primary key: use an existing object, so the page really opens."""
    for model in admin.site._registry:
        if route.name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
            pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
            return None if pk is None else str(pk)
    return None


def fill(route, objects):
    """Valid-looking values for the path's arguments: the EJ's own objects, existing admin objects."""
    values = dict(objects)
    if "object_id" in route.kwarg_names and (object_id := _admin_object_id(route)) is not None:
        values["object_id"] = object_id
    if set(route.kwarg_names) <= set(values):
        try:
            return reverse(route.name, kwargs={name: values[name] for name in route.kwarg_names}), values
        except NoReverseMatch:
            pass
    return route.path, values


def nul_paths(route, values):
    """The page's path with a NUL in each argument that accepts one, else with a NUL segment appended."""
    paths = []
    for name in route.kwarg_names:
        kwargs = {n: values.get(n, "x") for n in route.kwarg_names} | {name: NUL_VALUE}
        try:
            paths.append(reverse(route.name, kwargs=kwargs))
        except NoReverseMatch:
            continue
    base, _ = fill(route, values)
    return paths or [base.rstrip("/") + "/%00/"]


def field_names(response):
    if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
        return set()
    return {name.decode() for name in _FIELD_NAME.findall(response.content)} - {"csrfmiddlewaretoken"}


@pytest.fixture
def persona(request, member, ars_staff):
    return {"anonymous": None, "member": member, "ars_staff": ars_staff}[request.param]


def assert_refused(response, where):
    assert response.status_code in (400, 404), f"{where}: {response.status_code}"
    if response.status_code == 400:
        assert "Requête incorrecte" in response.content.decode(), where


@pytest.mark.parametrize("persona", PERSONAS, indirect=True)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_nul_bytes_anywhere_get_400_or_404(client_for, persona, ej, route):
    objects = objects_of(ej)
    path, values = fill(route, objects)
    client = client_for(persona)
    names = field_names(client.get(path)) | set(FORM_NAMES)
    form = dict.fromkeys(names, NUL_VALUE)
    events, sessions = AuditEvent.objects.count(), Session.objects.count()

    query = urlencode(dict.fromkeys(QUERY_NAMES, NUL_VALUE))
    assert_refused(client.get(f"{path}?{query}"), f"GET {path}?{query}")
    assert_refused(client.post(f"{path}?{query}"), f"POST {path}?{query}")
    assert_refused(client.post(path, form), f"POST multipart {path} {sorted(names)}")
    assert_refused(
        client.post(path, django_urlencode(form), content_type="application/x-www-form-urlencoded"),
        f"POST urlencoded {path}",
    )
    for nul_path in nul_paths(route, values):
        assert_refused(client.get(nul_path), f"GET {nul_path}")
        assert_refused(client.post(nul_path, {"a": "b"}), f"POST {nul_path}")

    assert AuditEvent.objects.count() == events
    assert Session.objects.count() == sessions


@pytest.mark.parametrize("url", ["/?q=%00", "/%00/", "/evaluations/%00/indicateurs/", "/sante/?%00"])
def test_the_issues_examples_answer_400_with_the_french_page(client_for, member, url):
    for client in (client_for(), client_for(member)):
        response = client.get(url)
        assert response.status_code == 400
        assert "Requête incorrecte" in response.content.decode()


def test_a_nul_in_a_form_field_is_refused_before_any_view_runs(client_for, member):
    client = client_for(member)
    response = client.post(reverse("accounts:account"), {"first_name": "Ann\x00e", "last_name": "Dupont"})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.last_name != "Dupont"


@pytest.mark.parametrize("value", ["abc", "", "1.5", "١٢", "99999999999999999999999", " "])
def test_ending_a_session_that_is_not_a_number_is_a_404(client_for, member, value):
    """The issue's `session=abc`: a 404 like any session that is not one's own, and no session ends."""
    client, other = Client(), Client()
    for each in (client, other):
        assert log_in(each, member.email, DEFAULT_PASSWORD).status_code == 302
    sessions = set(UserSession.objects.filter(user=member).values_list("pk", flat=True))
    assert len(sessions) == 2

    response = client.post(reverse("accounts:end_session"), {"session": value})

    assert response.status_code == 404
    assert set(UserSession.objects.filter(user=member).values_list("pk", flat=True)) == sessions


@pytest.mark.parametrize("path", ["/", "/sante/", "/accounts/login/", "/cette-page-n-existe-pas/"])
def test_a_host_not_allowed_gets_the_french_400_page(client_for, member, path):
    for client in (client_for(), client_for(member)):
        response = client.get(path, headers={"host": "evil.example"})
        assert response.status_code == 400
        content = response.content.decode()
        assert "Requête incorrecte" in content
        assert '<html lang="fr">' in content
        # The session of a request for another site is never read: the page shows no account.
        assert member.email not in content


def test_a_nul_in_the_session_cookie_or_a_header_is_refused(client_for, member, settings):
    """A NUL there would reach the session lookup, or the sessions list (user agent), in the database."""
    client = client_for(member)
    cookie = f'{settings.SESSION_COOKIE_NAME}="abcdefgh\\000ijklmnop"'
    assert client.get("/", HTTP_COOKIE=cookie).status_code == 400
    assert client.get("/", headers={"user-agent": "Mozilla\x00"}).status_code == 400
    login = {"login": "a@b.fr", "password": "x"}
    assert client.post(reverse("account_login"), login, headers={"user-agent": "\x00"}).status_code == 400
