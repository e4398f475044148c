"""The privilege table (ecars/privileges.py) is what the admin does, for every role, model, page and action.

Generated over every registered ModelAdmin, its actions and the admin's URLs: a new model, page or
action fails here until the table says who may use it. Each role works in `region`; the objects of
another region answer 404, as if they did not exist.
"""

import uuid

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from dsfr.models import DsfrConfig

from accounts.models import LoginPolicy, User
from contracts.enums import MembershipRole
from ecars.admin import PrivilegedAdminMixin, PrivilegedInlineMixin
from ecars.privileges import PAGE_VERBS, PRIVILEGES, StaffRole, verbs
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory
from tests.ecars.admin_objects import make_object_set
from tests.urlconf import all_routes


ROLES = list(StaffRole)
REGIONAL_ROLES = [StaffRole.ARS_AGENT, StaffRole.AM_EVALUATOR, StaffRole.OMEDIT_EVALUATOR]
REGISTRY = admin.site._registry


def label(model):
    return model._meta.label_lower


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def make_staff(role, region):
    traits = {
        StaffRole.NATIONAL_ADMIN: {"national_admin": True},
        StaffRole.ARS_AGENT: {"ars_staff": True, "region": region},
        StaffRole.AM_EVALUATOR: {"am_staff": True, "region": region},
        StaffRole.OMEDIT_EVALUATOR: {"omedit_staff": True, "region": region},
    }
    user = UserFactory(**traits[role])
    assert user.staff_role == role
    return user


def every_object(region):
    """One object of every registered model, those of projects apps in `region`."""
    objects = make_object_set(region)
    member = objects[User]
    colleague = UserFactory(ars_staff=True, region=region)
    TOTP.activate(colleague, generate_totp_secret())
    objects[EmailAddress] = EmailAddress.objects.get(user=member)
    objects[Authenticator] = Authenticator.objects.get(user=colleague)
    objects[UserSession] = UserSession.objects.create(
        user=member, session_key=uuid.uuid4().hex, ip="192.0.2.1", user_agent="Firefox"
    )
    objects[DsfrConfig] = DsfrConfig.objects.get_or_create(language="fr")[0]
    return objects


def offered_actions(response) -> set[str]:
    action_form = response.context["action_form"]
    return {name for name, _ in action_form.fields["action"].choices if name} if action_form else set()


def expected_actions(model_admin, role) -> set[str]:
    """The actions of a model admin whose verbs the role holds on that model."""
    allowed = verbs(_Persona(role), label(model_admin.model))
    return {
        name
        for function, name, _ in model_admin._get_base_actions()
        if set(getattr(function, "allowed_permissions", ())) <= allowed
    }


class _Persona:
    def __init__(self, role):
        self.staff_role = role


# --- The table covers everything, and only what exists ----------------------------------------------


def test_every_model_admin_and_inline_obeys_the_table():
    assert Group not in REGISTRY, "permission groups are not used: powers come from the table"
    for model, model_admin in REGISTRY.items():
        assert isinstance(model_admin, PrivilegedAdminMixin), label(model)
        for inline in model_admin.inlines:
            assert issubclass(inline, PrivilegedInlineMixin), f"{label(model)}: {inline.__name__}"


def test_the_table_has_a_line_for_every_model_of_the_admin_and_no_other():
    inline_models = {label(inline.model) for model_admin in REGISTRY.values() for inline in model_admin.inlines}
    assert set(PRIVILEGES) == {label(model) for model in REGISTRY} | inline_models


def test_every_admin_action_is_a_verb_of_the_table():
    """An action whose verb nobody holds would be dead; one whose verb is unknown would be unchecked."""
    for model, model_admin in REGISTRY.items():
        granted = set().union(*PRIVILEGES[label(model)].values())
        for function, name, _ in model_admin._get_base_actions():
            if name == "delete_selected":  # Django's own, shown with the « delete » verb only
                continue
            needed = set(getattr(function, "allowed_permissions", ()))
            assert needed, f"{label(model)}.{name} declares no permission"
            assert needed <= granted, f"{label(model)}.{name} needs {needed - granted}, which nobody holds"


def test_only_the_page_verbs_and_known_actions_appear():
    known = {
        *PAGE_VERBS,
        *("invite", "reopen", "decide", "upload", "open", "consolidate", "report", "import", "dashboard", "export"),
    }
    for model_label, by_role in PRIVILEGES.items():
        for role, granted in by_role.items():
            assert role in ROLES
            assert granted <= known, f"{model_label}: {granted - known}"
            if granted & {"add", "change", "delete"}:
                assert "view" in granted, f"{model_label} ({role}): writing needs viewing"


# --- Every role, every model: pages and actions as the table says ------------------------------------


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_admin_pages_and_actions_follow_the_table(role, region, client_for):
    objects = every_object(region)
    client = client_for(make_staff(role, region))
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    listed = {label(entry_model["model"]) for app in index.context["app_list"] for entry_model in app["models"]}
    mismatches = []

    def expect(what, actual, expected):
        if actual != expected:
            mismatches.append(f"{what}: got {actual}, table says {expected}")

    for model, model_admin in REGISTRY.items():
        granted = verbs(_Persona(role), label(model))
        name = label(model)
        expect(f"{name} listed on the index", name in listed, bool(granted))
        changelist = client.get(admin_url(model, "changelist"))
        expect(f"{name} changelist", changelist.status_code, 200 if "view" in granted else 403)
        if changelist.status_code == 200:
            expect(f"{name} actions", offered_actions(changelist), expected_actions(model_admin, role))
        # The login rule is a single row, which exists: nobody adds another.
        may_add = "add" in granted and model is not LoginPolicy
        expect(f"{name} add page", client.get(admin_url(model, "add")).status_code, 200 if may_add else 403)
        obj = objects.get(model)
        if obj is None:
            continue
        change = client.get(admin_url(model, "change", obj.pk))
        expect(f"{name} change page", change.status_code, 200 if "view" in granted else 403)
        if change.status_code == 200:
            expect(f"{name} editable", change.context["has_change_permission"], "change" in granted)
        expect(f"{name} history", client.get(admin_url(model, "history", obj.pk)).status_code, change.status_code)
        delete = client.get(admin_url(model, "delete", obj.pk))
        expect(f"{name} delete page", delete.status_code, 200 if "delete" in granted else 403)
        if "change" not in granted:
            expect(f"{name} change POST", client.post(admin_url(model, "change", obj.pk), {}).status_code, 403)
            expect(f"{name} still there", model.objects.filter(pk=obj.pk).exists(), True)
    assert not mismatches, "\n".join(mismatches)


# --- Another region does not exist ---------------------------------------------------------------------


NATIONAL_MODELS = {"contracts.contracttype", "evaluation.referential", "accounts.loginpolicy"}


@pytest.mark.parametrize("role", REGIONAL_ROLES, ids=str)
def test_every_object_of_another_region_is_a_404(role, region, other_region, client_for):
    """Change, history and delete pages of another region's objects: 404 for whoever may view the model,
    403 (before any lookup) for whoever may not. National data is the same for all."""
    foreign = make_object_set(other_region)
    client = client_for(make_staff(role, region))
    mismatches = []
    for model, obj in foreign.items():
        granted = verbs(_Persona(role), label(model))
        if "view" not in granted:
            expected = 403
        elif label(model) in NATIONAL_MODELS:
            expected = 200
        else:
            expected = 404
        for view in ("change", "history"):
            status = client.get(admin_url(model, view, obj.pk)).status_code
            if status != expected:
                mismatches.append(f"{label(model)} {view}: {status}, expected {expected}")
        # Where the role may not change or delete this model, the answer is 403 whether the object exists
        # or not (nothing is told); where it may, another region's object is a 404.
        may_change, may_delete = "change" in granted, "delete" in granted
        status = client.post(admin_url(model, "change", obj.pk), {}).status_code
        if status != (404 if may_change and expected == 404 else 403) and not (expected == 200 and may_change):
            mismatches.append(f"{label(model)} change POST: {status}")
        delete = client.get(admin_url(model, "delete", obj.pk)).status_code
        if delete != (404 if may_delete and expected == 404 else 403):
            mismatches.append(f"{label(model)} delete: {delete}")
        listed = client.get(admin_url(model, "changelist"))
        if listed.status_code == 200 and expected == 404 and obj in listed.context["cl"].result_list:
            mismatches.append(f"{label(model)} listed")
    assert not mismatches, "\n".join(mismatches)


# --- The admin's URLs ------------------------------------------------------------------------------


ADMIN_ROUTES = [route for route in all_routes() if route.name.startswith("admin:")]


def test_no_admin_page_sets_a_password():
    """Django's « change password » page of a user is gone: agents never see nor set a password."""
    assert not [route.name for route in ADMIN_ROUTES if "password" in route.name and "user" in route.name]


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_user_password_address_is_a_404_for_every_role(role, region, client_for, member):
    client = client_for(make_staff(role, region))
    response = client.get(f"/admin/accounts/user/{member.pk}/password/", follow=True)
    assert response.status_code in {403, 404}
    assert b"password1" not in response.content
    response = client.post(
        f"/admin/accounts/user/{member.pk}/password/", {"password1": "Pirate-2026-!x", "password2": "Pirate-2026-!x"}
    )
    assert response.status_code in {302, 403, 404}
    member.refresh_from_db()
    assert not member.check_password("Pirate-2026-!x")


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_every_admin_url_answers_without_error(role, region, client_for):
    """Each admin URL, with sample arguments, for each role: never a server error."""
    client = client_for(make_staff(role, region))
    for route in ADMIN_ROUTES:
        if route.name == "admin:logout":
            continue
        status = client.get(route.path).status_code
        assert status < 500, f"{route.name} {route.path}: {status}"


def test_admin_password_change_is_the_portals(client_for, ars_staff):
    """The admin's own password pages lead to the portal's (rate-limited, notified by e-mail)."""
    client = client_for(ars_staff)
    response = client.get(reverse("admin:password_change"))
    assert response.status_code == 302
    assert response["Location"] == reverse("account_change_password")


def test_admin_logout_signs_out(client_for, ars_staff):
    client = client_for(ars_staff)
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_establishment_account_marked_staff_never_enters_the_admin(client_for, ej):
    """Only staff roles enter: an establishment user's account is refused even with « is_staff » set."""
    member = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    User.objects.filter(pk=member.pk).update(is_staff=True)
    member.refresh_from_db()
    assert member.staff_role is None
    client = client_for(member)
    response = client.get(reverse("admin:index"))
    assert response.status_code != 200 or "app_list" not in response.context
    assert client.get(admin_url(User, "changelist")).status_code in {302, 403}


def test_readme_shows_the_table():
    """README.md « Rôles et droits des agents » is generated from the table: it cannot drift."""
    with open("README.md", encoding="utf-8") as readme:
        text = readme.read()
    expected = privilege_table_markdown()
    assert expected in text, "Update README.md with:\n\n" + expected


# Third-party models, named in French in the README.
FRENCH_NAMES = {
    "account.emailaddress": "adresses de messagerie (allauth)",
    "django_tasks_database.dbtaskresult": "tâches de fond",
    "dsfr.dsfrconfig": "configuration du DSFR",
    "dsfr.dsfrsocialmedia": "réseaux sociaux du pied de page",
    "mfa.authenticator": "authentificateurs (double authentification)",
    "usersessions.usersession": "sessions",
}


def privilege_table_markdown() -> str:
    header = "| modèle | " + " | ".join(role.label for role in ROLES) + " |"
    lines = [header, "|---" * (len(ROLES) + 1) + "|"]
    for model_label in sorted(PRIVILEGES):
        name = FRENCH_NAMES.get(model_label) or apps.get_model(model_label)._meta.verbose_name_plural
        cells = [", ".join(sorted(PRIVILEGES[model_label].get(role, ()))) or "—" for role in ROLES]
        lines.append(f"| {name} (`{model_label}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)
