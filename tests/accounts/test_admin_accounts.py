"""Accounts in the admin, tried as an attacker holding one regional agent account would (issue 9).

Agents never see nor set a password: they send an invitation or a temporary password, by e-mail, to
establishment accounts whose every membership is in their region. Staff accounts, privileges and the
national login rule belong to national administrators.
"""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts import services
from accounts.enums import UserKind
from accounts.models import Invitation, LoginPolicy, User
from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import GOOD_PASSWORD, last_code, log_in, request_code, set_new_password, submit_code
from tests.conftest import Client
from tests.contracts.factories import MembershipFactory


@pytest.fixture
def national_admin():
    return UserFactory(national_admin=True)


def admin_url(view, *args):
    return reverse(f"admin:accounts_user_{view}", args=args)


def run_action(client, action, users):
    return client.post(
        admin_url("changelist"), {"action": action, "_selected_action": [user.pk for user in users]}, follow=True
    )


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def change_data(user, **overrides):
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "is_active": "on" if user.is_active else "",
        **overrides,
    }


# --- Passwords: nobody sees or sets one -------------------------------------------------------------


def test_an_agent_cannot_set_a_users_password_and_sign_in_as_them(client_for, ars_staff, member):
    """The attack: /admin/accounts/user/<id>/password/ then a login with the password chosen."""
    client = client_for(ars_staff)
    url = f"/admin/accounts/user/{member.pk}/password/"
    data = {"password1": "Pirate-Region-2026!", "password2": "Pirate-Region-2026!", "set_usable_password": "true"}
    assert client.get(url, follow=True).status_code == 404
    client.post(url, data, follow=True)
    member.refresh_from_db()
    assert member.check_password(DEFAULT_PASSWORD)
    assert log_in(Client(), member.email, "Pirate-Region-2026!").status_code == 200  # refused


def test_the_account_page_shows_no_password_and_no_hash(client_for, ars_staff, member):
    response = client_for(ars_staff).get(admin_url("change", member.pk))
    assert response.status_code == 200
    assertNotContains(response, 'name="password')
    assert member.password.split("$")[-1].encode() not in response.content
    assertNotContains(response, "/password/")
    assertContains(response, "est jamais visible ni modifiable ici : envoyez une invitation")


def test_agents_cannot_filter_accounts_on_the_password_hash(client_for, ars_staff, member):
    response = client_for(ars_staff).get(admin_url("changelist"), {"password__startswith": "md5"})
    assert response.status_code in {302, 400}
    assert "cl" not in (response.context or {})


# --- Which accounts an agent manages ---------------------------------------------------------------


def test_an_agent_cannot_take_over_a_member_who_also_belongs_to_another_regions_ej(
    client_for, ars_staff, member, other_region
):
    """Through such an account the agent would reach the other region's EJ, documents and ZIPs."""
    MembershipFactory(user=member, ej__region=other_region)
    client = client_for(ars_staff)
    response = client.get(admin_url("change", member.pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert (
        client.post(admin_url("change", member.pk), change_data(member, email="pirate@exemple.fr")).status_code == 403
    )
    for action in ("send_invitations", "send_temporary_passwords"):
        response = run_action(client, action, [member])
        assert any(member.email in message and "ne gérez pas" in message for message in messages_of(response))
    member.refresh_from_db()
    assert member.email != "pirate@exemple.fr"
    assert member.check_password(DEFAULT_PASSWORD)
    assert not member.password_must_change
    assert not Invitation.objects.filter(user=member).exists()
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT).exists()


def test_an_agent_cannot_change_nor_send_credentials_to_a_colleague(client_for, ars_staff, region):
    """Staff accounts are managed by national administrators only."""
    colleague = UserFactory(ars_staff=True, region=region)
    client = client_for(ars_staff)
    response = client.get(admin_url("change", colleague.pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert (
        client.post(admin_url("change", colleague.pk), change_data(colleague, email="x@exemple.fr")).status_code == 403
    )
    run_action(client, "send_invitations", [colleague])
    run_action(client, "send_temporary_passwords", [colleague])
    colleague.refresh_from_db()
    assert colleague.check_password(DEFAULT_PASSWORD)
    assert mail.outbox == []


def test_an_agent_cannot_change_their_own_account_in_the_admin(client_for, ars_staff):
    """Their name and address are changed in « Mon compte », their region and role by a national administrator."""
    client = client_for(ars_staff)
    assert client.post(admin_url("change", ars_staff.pk), change_data(ars_staff, first_name="X")).status_code == 403


def test_an_agent_cannot_turn_a_member_into_staff(client_for, ars_staff, member, other_region):
    response = client_for(ars_staff).post(
        admin_url("change", member.pk),
        change_data(member, kind=UserKind.ARS, is_staff="on", region=other_region.pk, is_superuser="on"),
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.kind, member.is_staff, member.is_superuser, member.region) == (
        UserKind.ETABLISSEMENT,
        False,
        False,
        None,
    )


def test_nobody_grants_superuser_status_groups_or_permissions_in_the_admin(client_for, national_admin, region):
    agent = UserFactory(ars_staff=True, region=region)
    permission = Permission.objects.get(codename="delete_document")
    response = client_for(national_admin).post(
        admin_url("change", agent.pk),
        change_data(
            agent,
            kind=agent.kind,
            region=region.pk,
            is_staff="on",
            first_name="Nouveau",
            is_superuser="on",
            user_permissions=[permission.pk],
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    agent.refresh_from_db()
    assert agent.first_name == "Nouveau"
    assert not agent.is_superuser
    assert not agent.user_permissions.exists()
    assert not agent.has_perm("documents.delete_document")


def test_permissions_come_from_the_role_not_from_grants(ars_staff):
    """A permission granted in the database by other means gives nothing: only the table counts."""
    ars_staff.user_permissions.add(Permission.objects.get(codename="delete_entitejuridique"))
    ars_staff = User.objects.get(pk=ars_staff.pk)
    assert not ars_staff.has_perm("contracts.delete_entitejuridique")
    assert ars_staff.has_perm("contracts.change_entitejuridique")


# --- Sending credentials -----------------------------------------------------------------------------


def test_an_agent_invites_a_member_of_their_region(client_for, ars_staff, member):
    response = run_action(client_for(ars_staff), "send_invitations", [member])
    assert "1 invitation envoyée par courriel." in messages_of(response)
    [message] = mail.outbox
    assert message.to == [member.email]
    assert Invitation.objects.filter(user=member, created_by=ars_staff).exists()
    event = AuditEvent.objects.get(event_type=EventType.INVITATION_SENT)
    assert (event.actor, event.data["method"]) == (ars_staff, "invitation")


def test_an_agents_temporary_password_must_be_renewed_at_the_first_login(client_for, ars_staff, member):
    run_action(client_for(ars_staff), "send_temporary_passwords", [member])
    member.refresh_from_db()
    assert member.password_must_change
    assert AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT, data__method="temporary_password").exists()
    [message] = mail.outbox
    password = next(
        line.split()[-1]
        for line in message.body.splitlines()
        if "mot de passe temporaire" in line.lower() and ":" in line
    )
    client = Client()
    log_in(client, member.email, password)
    assert client.get(reverse("contracts:home"))["Location"] == reverse("accounts:renew_password")


# --- Creating and changing accounts -------------------------------------------------------------------


def test_an_agent_creates_an_establishment_account_of_their_region_invited_by_e_mail(
    client_for, ars_staff, region, other_region
):
    response = client_for(ars_staff).post(
        admin_url("add"),
        {
            "email": "Nouvel.Agent@ARS.sante.fr",
            "first_name": "Nouvel",
            "last_name": "Agent",
            "kind": UserKind.ARS,
            "region": other_region.pk,
            "is_staff": "on",
            "is_superuser": "on",
            "password1": "Choisi-par-l-agent-1!",
            "password2": "Choisi-par-l-agent-1!",
            "send_invitation": "on",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(email="nouvel.agent@ars.sante.fr")
    assert (created.kind, created.is_staff, created.is_superuser, created.region) == (
        UserKind.ETABLISSEMENT,
        False,
        False,
        region,
    )
    assert not created.has_usable_password()
    assert EmailAddress.objects.filter(user=created, email=created.email, primary=True).exists()
    assert Invitation.objects.filter(user=created).exists()
    assert [message.to for message in mail.outbox] == [[created.email]]
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_CHANGED)
    assert (event.actor, event.data["created"]) == (ars_staff, True)


def test_an_account_is_created_once_per_address(client_for, ars_staff, member):
    response = client_for(ars_staff).post(admin_url("add"), {"email": member.email.upper(), "send_invitation": "on"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "Un compte existe déjà avec cette adresse de messagerie."
    ]
    assert User.objects.count() == 2
    assert mail.outbox == []


def test_a_national_administrator_creates_an_agent_who_must_set_up_totp(client_for, national_admin, region):
    response = client_for(national_admin).post(
        admin_url("add"),
        {
            "email": "evaluatrice@assurance-maladie.fr",
            "kind": UserKind.AM,
            "region": region.pk,
            "is_staff": "on",
            "send_invitation": "on",
        },
    )
    assert response.status_code == 302
    agent = User.objects.get(email="evaluatrice@assurance-maladie.fr")
    assert agent.staff_role == "am"
    token = mail.outbox[-1].body.split("/compte/invitation/")[1].split("/")[0]
    client = Client()
    client.get(reverse("accounts:accept_invitation_token", args=[token]))
    client.post(reverse("accounts:accept_invitation"), {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    # Signed in with the password alone: every page leads to the TOTP set-up first.
    for url in (reverse("contracts:home"), reverse("admin:index"), reverse("accounts:account")):
        assert client.get(url)["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"kind": UserKind.ARS}, "region", "Un agent ARS, Assurance Maladie ou OMEDIT doit avoir une région."),
        (
            {"kind": UserKind.ETABLISSEMENT, "is_staff": "on"},
            "is_staff",
            "Un compte établissement n'accède pas à l'administration : choisissez un type d'agent.",
        ),
    ],
)
def test_inconsistent_accounts_are_refused_with_a_message(client_for, national_admin, data, field, message):
    response = client_for(national_admin).post(admin_url("add"), {"email": "incoherent@exemple.fr", **data})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert not User.objects.filter(email="incoherent@exemple.fr").exists()


def test_a_changed_address_is_audited_and_told_to_the_old_one(client_for, ars_staff, member):
    old_email = member.email
    response = client_for(ars_staff).post(admin_url("change", member.pk), change_data(member, email="Nouvelle@CHU.fr"))
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.email == "nouvelle@chu.fr"
    assert list(EmailAddress.objects.filter(user=member).values_list("email", flat=True)) == ["nouvelle@chu.fr"]
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_CHANGED)
    assert (event.actor, event.data["changes"]["email"]) == (ars_staff, [old_email, "nouvelle@chu.fr"])
    [notice] = mail.outbox
    assert notice.to == [old_email]
    assert "nouvelle@chu.fr" in notice.body
    # The old address no longer receives renewal codes; the new one does.
    mail.outbox.clear()
    request_code(Client(), old_email)
    request_code(Client(), "nouvelle@chu.fr")
    assert [message.to for message in mail.outbox] == [["nouvelle@chu.fr"]]


def test_a_deactivated_account_is_signed_out(client_for, ars_staff, member):
    member_client = client_for(member)
    assert member_client.get(reverse("contracts:home")).status_code == 200
    response = client_for(ars_staff).post(admin_url("change", member.pk), change_data(member, is_active=""))
    assert response.status_code == 302
    assert member_client.get(reverse("contracts:home")).status_code == 302
    assert AuditEvent.objects.get(event_type=EventType.ACCOUNT_CHANGED).data["changes"]["is_active"] == [True, False]


# --- Every account has its address row: a renewal lifts the lockout -------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: User.objects.create_user(email="cree.en.base@exemple.fr", password=DEFAULT_PASSWORD),
        lambda: UserFactory(email="fabrique@exemple.fr"),
    ],
    ids=["create_user", "factory"],
)
def test_every_way_of_creating_an_account_gives_it_its_address_row(make):
    user = make()
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "primary")) == [(user.email, True)]


def test_a_renewal_by_code_lifts_the_lockout_of_an_account_created_without_allauth(client):
    """The attack: anyone who knows an address keeps its owner out by failing five logins."""
    victim = User.objects.create_user(email="victime@chu-exemple.fr", password=DEFAULT_PASSWORD)
    for _ in range(6):
        log_in(Client(), victim.email, "Pas-le-bon-2031!")
    assert "Trop de tentatives" in log_in(Client(), victim.email, DEFAULT_PASSWORD).content.decode()
    request_code(client, victim.email)
    submit_code(client, last_code(victim.email))
    set_new_password(client)
    assert log_in(Client(), victim.email, GOOD_PASSWORD).status_code == 302


# --- The national login rule ---------------------------------------------------------------------------


POLICY_ADD = reverse("admin:accounts_loginpolicy_add")


def test_an_agent_cannot_set_the_national_login_rule(client_for, ars_staff):
    """The attack: a cut-off in 2099 refused every account of the country, superusers included."""
    client = client_for(ars_staff)
    assert client.post(POLICY_ADD, {"renewal_cutoff": "2099-01-01"}).status_code == 403
    assert not LoginPolicy.objects.exists()
    LoginPolicy.objects.create(pk=1, renewal_cutoff=datetime.date(2026, 1, 1))
    change = reverse("admin:accounts_loginpolicy_change", args=[1])
    assert client.get(change).context["has_change_permission"] is False
    assert client.post(change, {"renewal_cutoff": "2099-01-01"}).status_code == 403
    assert LoginPolicy.objects.get().renewal_cutoff == datetime.date(2026, 1, 1)


def test_a_cutoff_after_today_is_refused_even_to_a_national_administrator(client_for, national_admin):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = client_for(national_admin).post(POLICY_ADD, {"renewal_cutoff": tomorrow.isoformat()})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["renewal_cutoff"] == [
        "La date ne peut pas être postérieure à aujourd'hui : une date future obligerait chaque compte, même "
        "celui qui vient de renouveler son mot de passe, à le renouveler encore."
    ]
    assert not LoginPolicy.objects.exists()
    with pytest.raises(ValueError):
        services.set_login_policy(tomorrow, acting_user=national_admin)


def test_a_national_administrator_sets_todays_cutoff_audited(client_for, national_admin):
    today = timezone.localdate()
    response = client_for(national_admin).post(POLICY_ADD, {"renewal_cutoff": today.isoformat()})
    assert response.status_code == 302
    assert LoginPolicy.objects.get().renewal_cutoff == today
    event = AuditEvent.objects.get(event_type=EventType.LOGIN_POLICY_CHANGED)
    assert (event.actor, event.data["renewal_cutoff"]) == (national_admin, [None, today.isoformat()])


def test_nobody_can_lock_everybody_out(client, region):
    """Even a cut-off far in the future, written in the database behind the admin's back, lets in whoever
    renewed their password today: establishment users, agents and national administrators."""
    LoginPolicy.objects.create(pk=1, renewal_cutoff=datetime.date(2099, 1, 1))
    long_ago = timezone.now() - datetime.timedelta(days=400)
    for user in (UserFactory(), UserFactory(ars_staff=True, region=region), UserFactory(national_admin=True)):
        User.objects.filter(pk=user.pk).update(date_joined=long_ago, last_login=long_ago)
        refused = log_in(Client(), user.email, DEFAULT_PASSWORD)
        assertContains(refused, "merci de renouveler votre mot de passe")
        renewing = Client()
        request_code(renewing, user.email)
        submit_code(renewing, last_code(user.email))
        set_new_password(renewing)
        assert log_in(Client(), user.email, GOOD_PASSWORD).status_code == 302, user.email


def test_the_migration_gives_existing_accounts_their_address_row():
    """Accounts created before this change (seeded, imported, made in the admin) had no row."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0004_every_account_has_its_address_row")
    legacy = UserFactory(email="ancien@chu-exemple.fr")
    EmailAddress.objects.filter(user=legacy).delete()
    migration.add_missing_address_rows(apps, schema_editor=None)
    assert list(EmailAddress.objects.filter(user=legacy).values_list("email", "primary")) == [(legacy.email, True)]
