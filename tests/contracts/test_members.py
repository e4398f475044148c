"""« Membres de l'EJ »: an EJ's member administrator invites colleagues with a role, changes roles and
removes members; everybody else gets a 404 (SECURITY.md C2, C4, F2)."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.enums import UserKind
from accounts.models import Invitation, User
from audit.enums import EventType
from audit.models import AuditEvent
from contracts import services
from contracts.enums import MembershipRole
from contracts.models import Membership
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory


@pytest.fixture
def send_mail(django_capture_on_commit_callbacks):
    """Run what waits for the commit (the queued e-mails) at the end of the block, for services called
    directly (the test client already does it for requests)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def member_admin(ej):
    """A signataire of `ej` who administers its members."""
    return MembershipFactory(ej=ej, signataire=True, admin=True).user


@pytest.fixture
def colleague(ej):
    """A contributeur of `ej`, with a password of their own."""
    return MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR, user__email="colleague@chu-exemple.fr").user


def member_events():
    """Audit events about members (logging the personas in writes login events too)."""
    return AuditEvent.objects.filter(event_type__startswith="ej.")


def members_url(ej):
    return reverse("contracts:members", args=[ej.public_id])


def role_url(ej):
    return reverse("contracts:change_member_role", args=[ej.public_id])


def remove_url(ej):
    return reverse("contracts:remove_member", args=[ej.public_id])


# The page and who may open it


def test_member_admin_sees_the_members_and_the_invitation_form(client_for, ej, member_admin, colleague):
    response = client_for(member_admin).get(members_url(ej))

    assert response.status_code == 200
    assertContains(response, "<h1>Membres de l'EJ</h1>", html=True)
    assertContains(response, ej.name)
    assertContains(response, "colleague@chu-exemple.fr")
    assertContains(response, "Inviter un collègue")
    assertContains(response, '<label class="fr-label" for="id_email">', html=False)
    assertContains(response, "Adresse de messagerie")
    assertContains(response, '<label class="fr-label" for="id_role">Rôle</label>', html=True)
    assertContains(response, f'value="{colleague.public_id}"')
    assertNotContains(response, f'<input type="hidden" name="member" value="{colleague.pk}">', html=True)


@pytest.mark.parametrize("persona", ["member", "other_member", "ars_staff"])
def test_members_page_is_404_for_anyone_but_a_member_administrator(persona, request, client_for, ej, colleague):
    """Only the EJ's member administrators manage its members: plain members, members of another EJ and
    agency staff get a 404, and nothing changes."""
    user = request.getfixturevalue(persona)
    client = client_for(user)

    assert client.get(members_url(ej)).status_code == 404
    assert client.post(members_url(ej), {"email": "x@chu-exemple.fr", "role": "lecteur"}).status_code == 404
    assert client.post(role_url(ej), {"member": colleague.public_id, "role": "signataire"}).status_code == 404
    assert client.post(remove_url(ej), {"member": colleague.public_id}).status_code == 404
    assert Membership.objects.get(user=colleague).role == MembershipRole.CONTRIBUTEUR
    assert not User.objects.filter(email="x@chu-exemple.fr").exists()
    assert not member_events().exists()


def test_administrator_of_another_ej_gets_404(client_for, ej, other_ej, colleague):
    """Administering one EJ gives no right over another."""
    other_admin = MembershipFactory(ej=other_ej, admin=True).user

    client = client_for(other_admin)

    assert client.get(members_url(ej)).status_code == 404
    assert client.post(remove_url(ej), {"member": colleague.public_id}).status_code == 404
    assert Membership.objects.filter(user=colleague, ej=ej).exists()


def test_a_member_of_another_ej_cannot_be_changed_or_removed_through_this_one(
    client_for, ej, member_admin, other_member
):
    """The member is looked up within the EJ of the URL: a member of another EJ answers 404."""
    client = client_for(member_admin)

    assert client.post(role_url(ej), {"member": other_member.public_id, "role": "lecteur"}).status_code == 404
    assert client.post(remove_url(ej), {"member": other_member.public_id}).status_code == 404
    assert Membership.objects.get(user=other_member).role == MembershipRole.SIGNATAIRE


def test_members_page_queries_do_not_grow_with_the_number_of_members(client_for, ej, member_admin):
    client = client_for(member_admin)

    def queries_for_page():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(members_url(ej))
        assert response.status_code == 200
        return len(queries)

    MembershipFactory.create_batch(2, ej=ej)
    with_3_members = queries_for_page()
    MembershipFactory.create_batch(17, ej=ej)
    with_20_members = queries_for_page()

    assert Membership.objects.filter(ej=ej).count() == 20
    assert with_20_members == with_3_members


# Inviting


def test_member_admin_invites_a_new_address(client_for, ej, member_admin, settings):
    settings.SITE_URL = "https://ecars.sante.example"

    response = client_for(member_admin).post(
        members_url(ej), {"email": "  Nouvelle.Collegue@CHU-Exemple.fr ", "role": "contributeur"}, follow=True
    )

    assertRedirects(response, members_url(ej))
    assertContains(response, "nouvelle.collegue@chu-exemple.fr est maintenant membre de l&#x27;EJ (contributeur)")
    user = User.objects.get(email="nouvelle.collegue@chu-exemple.fr")
    assert user.kind == UserKind.ETABLISSEMENT
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user, ej=ej).role == MembershipRole.CONTRIBUTEUR
    assert Invitation.objects.filter(user=user, created_by=member_admin).count() == 1
    [message] = mail.outbox
    assert message.subject == "[e-CARS] Activez votre compte"
    assert message.to == ["nouvelle.collegue@chu-exemple.fr"]
    assert f"vous invite à rejoindre l'entité juridique {ej.finess} - {ej.name}" in message.body
    # The link comes from SITE_URL, not from the Host of the request (« testserver »).
    assert "https://ecars.sante.example/compte/invitation/" in message.body
    assert "testserver" not in message.body
    assert message.alternatives[0][1] == "text/html"
    [added] = AuditEvent.objects.filter(event_type=EventType.MEMBER_ADDED)
    assert (added.actor, added.ej, added.ip_address) == (member_admin, ej, "127.0.0.1")
    assert added.data == {"email": user.email, "role": "contributeur", "invited": True}
    [invited] = AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT)
    assert (invited.actor, invited.ej, invited.ip_address) == (member_admin, ej, "127.0.0.1")


def test_member_admin_adds_an_existing_user_who_is_told_by_email(client_for, ej, other_member, member_admin):
    response = client_for(member_admin).post(members_url(ej), {"email": other_member.email, "role": "lecteur"})

    assertRedirects(response, members_url(ej), fetch_redirect_response=False)
    assert Membership.objects.get(user=other_member, ej=ej).role == MembershipRole.LECTEUR
    assert not Invitation.objects.exists()
    [message] = mail.outbox
    assert message.subject == f"[e-CARS] Vous êtes membre de {ej.name}"
    assert message.to == [other_member.email]
    assert "vous a ajouté aux membres de l'entité juridique" in message.body
    assert "avec le rôle : lecteur" in message.body
    assert message.alternatives[0][1] == "text/html"
    assert not AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT).exists()
    # The new EJ appears on their home page at once.
    assertContains(client_for(other_member).get(reverse("contracts:home")), ej.name)


def test_an_existing_account_that_never_chose_a_password_gets_a_new_invitation(ej, member_admin, send_mail):
    pending = UserFactory(password=None)
    pending.set_unusable_password()
    pending.save(update_fields=["password"])

    with send_mail():
        services.invite_member(ej, pending.email, MembershipRole.LECTEUR, acting_user=member_admin)

    assert Invitation.objects.filter(user=pending).count() == 1
    assert mail.outbox[0].subject == "[e-CARS] Activez votre compte"


def test_inviting_a_current_member_is_refused_and_changes_nothing(client_for, ej, member_admin, colleague):
    response = client_for(member_admin).post(
        members_url(ej), {"email": "COLLEAGUE@chu-exemple.fr", "role": "signataire"}
    )

    assert response.status_code == 200
    assertContains(response, "Cette adresse est déjà celle d&#x27;un membre de cette entité juridique.")
    assert Membership.objects.get(user=colleague).role == MembershipRole.CONTRIBUTEUR
    assert Membership.objects.filter(ej=ej).count() == 2
    assert mail.outbox == []
    assert not member_events().exists()


def test_inviting_an_agency_staff_address_is_refused(client_for, ej, member_admin, ars_staff):
    response = client_for(member_admin).post(members_url(ej), {"email": ars_staff.email, "role": "lecteur"})

    assertContains(response, "Cette adresse est celle d&#x27;un agent de l&#x27;ARS")
    assert not Membership.objects.filter(user=ars_staff).exists()
    assert mail.outbox == []
    assert not member_events().exists()


def test_invalid_address_or_role_is_refused_with_french_messages(client_for, ej, member_admin):
    response = client_for(member_admin).post(members_url(ej), {"email": "pas-une-adresse", "role": "directeur"})

    assert response.status_code == 200
    assertContains(response, "Saisissez une adresse de courriel valide.")
    assertContains(response, "Sélectionnez un choix valide.")
    assert Membership.objects.filter(ej=ej).count() == 1


def test_the_ej_is_taken_from_the_url_never_from_the_form(client_for, ej, other_ej, member_admin):
    """No mass assignment: an `ej` field slipped into the form is ignored."""
    client_for(member_admin).post(
        members_url(ej), {"email": "nouveau@chu-exemple.fr", "role": "lecteur", "ej": other_ej.public_id}
    )

    assert list(Membership.objects.filter(user__email="nouveau@chu-exemple.fr").values_list("ej", flat=True)) == [
        ej.pk
    ]


# Changing a role


def test_member_admin_changes_a_role(client_for, ej, member_admin, colleague):
    response = client_for(member_admin).post(role_url(ej), {"member": colleague.public_id, "role": "signataire"})

    assertRedirects(response, members_url(ej), fetch_redirect_response=False)
    assert Membership.objects.get(user=colleague).role == MembershipRole.SIGNATAIRE
    [event] = member_events()
    assert event.event_type == EventType.MEMBER_ROLE_CHANGED
    assert (event.actor, event.ej, event.ip_address) == (member_admin, ej, "127.0.0.1")
    assert event.data == {"email": colleague.email, "from": "contributeur", "to": "signataire"}


def test_setting_the_same_role_writes_nothing(client_for, ej, member_admin, colleague):
    client_for(member_admin).post(role_url(ej), {"member": colleague.public_id, "role": "contributeur"})

    assert not member_events().exists()


def test_an_unknown_role_is_refused(client_for, ej, member_admin, colleague):
    response = client_for(member_admin).post(
        role_url(ej), {"member": colleague.public_id, "role": "administrateur"}, follow=True
    )

    assertContains(response, "Choisissez un rôle : lecteur, contributeur ou signataire.")
    assert Membership.objects.get(user=colleague).role == MembershipRole.CONTRIBUTEUR


# Removing


def test_removing_a_member_ends_their_access_at_once(client_for, ej, member_admin, colleague):
    colleague_client = client_for(colleague)
    assertContains(colleague_client.get(reverse("contracts:home")), ej.name)

    response = client_for(member_admin).post(remove_url(ej), {"member": colleague.public_id}, follow=True)

    assertContains(response, "colleague@chu-exemple.fr n&#x27;est plus membre de l&#x27;EJ.")
    assert not Membership.objects.filter(user=colleague, ej=ej).exists()
    assertNotContains(colleague_client.get(reverse("contracts:home")), ej.name)
    [event] = member_events()
    assert event.event_type == EventType.MEMBER_REMOVED
    assert (event.actor, event.ej, event.ip_address) == (member_admin, ej, "127.0.0.1")
    assert event.data == {"email": colleague.email, "role": "contributeur"}


def test_an_administrator_cannot_remove_themselves(client_for, ej, member_admin):
    response = client_for(member_admin).post(remove_url(ej), {"member": member_admin.public_id}, follow=True)

    assertContains(response, "Vous ne pouvez pas vous retirer vous-même")
    assert Membership.objects.filter(user=member_admin, ej=ej, is_admin=True).exists()
    assert not member_events().exists()


def test_an_administrator_can_remove_another_administrator(client_for, ej, member_admin):
    other_admin = MembershipFactory(ej=ej, admin=True).user

    client_for(member_admin).post(remove_url(ej), {"member": other_admin.public_id})

    assert not Membership.objects.filter(user=other_admin, ej=ej).exists()


def test_the_last_administrator_cannot_be_removed(ej, member_admin, ars_staff):
    membership = Membership.objects.get(user=member_admin, ej=ej)

    with pytest.raises(services.MemberError, match="dernier administrateur des membres"):
        services.remove_member(membership, acting_user=ars_staff)

    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_removed_administrator_can_no_longer_manage_members(client_for, ej, member_admin, colleague):
    """Rights are read at each request: an administrator removed meanwhile gets a 404."""
    admin_client = client_for(member_admin)
    Membership.objects.filter(user=member_admin).delete()

    assert admin_client.post(remove_url(ej), {"member": colleague.public_id}).status_code == 404
    with pytest.raises(PermissionDenied):
        services.remove_member(Membership.objects.get(user=colleague), acting_user=member_admin)
    assert Membership.objects.filter(user=colleague).exists()


# Every write is audited once, with its author, the EJ and the address it came from


@pytest.mark.parametrize(
    ("url", "data", "event_type"),
    [
        (members_url, {"email": "nouveau@chu-exemple.fr", "role": "lecteur"}, EventType.MEMBER_ADDED),
        (role_url, {"role": "signataire"}, EventType.MEMBER_ROLE_CHANGED),
        (remove_url, {}, EventType.MEMBER_REMOVED),
    ],
    ids=["invite", "change_role", "remove"],
)
def test_every_write_records_one_event_with_actor_ej_and_ip(url, data, event_type, ej, member_admin, colleague):
    client = Client(REMOTE_ADDR="192.0.2.10")
    client.force_login(member_admin)

    client.post(url(ej), {"member": colleague.public_id, **data})

    [event] = AuditEvent.objects.filter(event_type=event_type)
    assert (event.actor, event.ej, event.ip_address) == (member_admin, ej, "192.0.2.10")
    assert member_events().count() == 1


def test_notification_keeps_apostrophes_and_ampersands_readable(client_for, ej, other_member, member_admin):
    """Plain-text parts are not HTML-escaped; the HTML part is."""
    ej.name = "CH D'ALBI & CASTRES"
    ej.save(update_fields=["name"])

    client_for(member_admin).post(members_url(ej), {"email": other_member.email, "role": "signataire"})

    [message] = mail.outbox
    assert message.subject == "[e-CARS] Vous êtes membre de CH D'ALBI & CASTRES"
    assert f"{ej.finess} - CH D'ALBI & CASTRES" in message.body
    assert "CH D&#x27;ALBI &amp; CASTRES" in message.alternatives[0][0]
