"""« Membres de l'EJ »: an EJ's member administrator invites colleagues with a role, changes roles and
removes members; everybody else gets a 404 (SECURITY.md C2, C4, F2)."""

import datetime
import email
import email.policy
import re

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.enums import UserKind
from accounts.models import Invitation, User
from audit.enums import EventType
from audit.models import AuditEvent
from contracts import services
from contracts.enums import MembershipRole
from contracts.models import Membership
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory


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
    assert message.subject == f"[e-CARS] Vous êtes invité à rejoindre l'entité juridique {ej.name}"
    assert message.to == ["nouvelle.collegue@chu-exemple.fr"]
    assert f"Vous êtes invité à rejoindre l'entité juridique {ej.finess} - {ej.name} sur e-CARS" in message.body
    assert f"\nInvitation envoyée par : {member_admin.get_full_name()} ({member_admin.email})\n" in message.body
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
    assert f"Vous avez été ajouté aux membres de l'entité juridique {ej.finess} - {ej.name}" in message.body
    assert f"\nInvitation envoyée par : {member_admin.get_full_name()} ({member_admin.email})\n" in message.body
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
    assert mail.outbox[0].subject == f"[e-CARS] Vous êtes invité à rejoindre l'entité juridique {ej.name}"


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


NEUTRAL_REFUSAL = (
    "Cette adresse ne peut pas être ajoutée aux membres de cette entité juridique. Si vous pensez qu&#x27;il "
    "s&#x27;agit d&#x27;une erreur, contactez votre ARS."
)


def refused_address(kind, region):
    if kind == "agency_staff":
        return UserFactory(ars_staff=True, region=region, email="agent@ars.sante.fr")
    if kind == "superuser":
        return UserFactory(is_superuser=True, email="admin@chu-exemple.fr")
    return UserFactory(is_active=False, email="ancienne@chu-exemple.fr")


def error_of(response) -> str:
    return re.search(
        r'<div class="fr-messages-group" id="id_email-erreurs"[^>]*>(.*?)</div>', response.content.decode(), re.S
    )[1]


@pytest.mark.parametrize("kind", ["agency_staff", "superuser", "deactivated"])
def test_addresses_that_cannot_be_added_get_one_neutral_message_and_nothing_is_stored(
    kind, client_for, ej, member_admin, region
):
    """Whether an address is an agent's or a deactivated account's is not the inviter's to learn."""
    address = refused_address(kind, region)
    users_before = User.objects.count()

    response = client_for(member_admin).post(members_url(ej), {"email": address.email, "role": "lecteur"})

    assert response.status_code == 200
    assertContains(response, NEUTRAL_REFUSAL)
    for hint in ("agent", "désactivé", "ARS, de l", "OMEDIT", "réactiver"):
        assert hint not in error_of(response)
    assert User.objects.count() == users_before
    assert not Membership.objects.filter(user=address).exists()
    assert not Invitation.objects.exists()
    assert mail.outbox == []
    assert not member_events().exists()
    assert not AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT).exists()


def test_the_refusals_are_indistinguishable_from_one_another(client_for, ej, member_admin, region):
    client = client_for(member_admin)
    errors = {
        error_of(client.post(members_url(ej), {"email": refused_address(kind, region).email, "role": "lecteur"}))
        for kind in ("agency_staff", "superuser", "deactivated")
    }
    assert len(errors) == 1


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


# Rate limits: each invitation writes to an outside address in the portal's name

TOO_MANY_INVITATIONS = "Trop d&#x27;invitations ont été envoyées depuis cette entité juridique en peu de temps"


def invite(client, ej, email):
    return client.post(members_url(ej), {"email": email, "role": "lecteur"})


def test_an_administrator_sends_at_most_twenty_invitations_an_hour(client_for, ej, member_admin):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(member_admin)
        for number in range(20):
            assert invite(client, ej, f"collegue{number}@chu-exemple.fr").status_code == 302
        users_before = User.objects.count()
        events_before = set(AuditEvent.objects.values_list("pk", flat=True))

        response = invite(client, ej, "collegue20@chu-exemple.fr")

        assert response.status_code == 429
        assertContains(response, TOO_MANY_INVITATIONS, status_code=429)
        assertContains(response, 'value="collegue20@chu-exemple.fr"', status_code=429)  # what was typed stays
        assert User.objects.count() == users_before
        assert not User.objects.filter(email="collegue20@chu-exemple.fr").exists()
        assert Invitation.objects.count() == 20
        assert len(mail.outbox) == 20
        [throttled] = AuditEvent.objects.exclude(pk__in=events_before)  # nothing else was written
        assert throttled.event_type == EventType.LOGIN_THROTTLED
        assert (throttled.actor, throttled.ej, throttled.ip_address) == (member_admin, ej, "127.0.0.1")
        assert throttled.data == {"action": "invite_member", "email": "collegue20@chu-exemple.fr"}

        # Another administrator of the EJ has a budget of their own.
        other_admin = MembershipFactory(ej=ej, admin=True).user
        assert invite(client_for(other_admin), ej, "collegue21@chu-exemple.fr").status_code == 302
        # An hour later, the first one may invite again (a new session: the old one has gone idle).
        traveller.shift(datetime.timedelta(hours=1, seconds=1))
        assert invite(client_for(member_admin), ej, "collegue20@chu-exemple.fr").status_code == 302


def test_an_ej_sends_at_most_fifty_invitations_a_day_and_refused_ones_count(
    client_for, ej, other_ej, member_admin, colleague
):
    """Refused invitations count too: they would otherwise let anyone probe addresses without end."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for hour in range(3):
            client = client_for(member_admin)
            for _ in range(20 if hour < 2 else 10):
                assert invite(client, ej, colleague.email).status_code == 200  # « déjà membre »
            traveller.shift(datetime.timedelta(hours=1, minutes=1))

        for administrator in (member_admin, MembershipFactory(ej=ej, admin=True).user):
            response = invite(client_for(administrator), ej, "nouvelle@chu-exemple.fr")
            assertContains(response, TOO_MANY_INVITATIONS, status_code=429)
        assert not User.objects.filter(email="nouvelle@chu-exemple.fr").exists()
        assert mail.outbox == []
        # Another EJ is not held back by this one.
        other_admin = MembershipFactory(ej=other_ej, admin=True).user
        assert invite(client_for(other_admin), other_ej, "nouvelle@chu-exemple.fr").status_code == 302

        traveller.shift(datetime.timedelta(days=1))
        assert invite(client_for(member_admin), ej, "autre@chu-exemple.fr").status_code == 302


# The e-mails: the portal's words first; the inviter's own text, labelled, further down

SPOOFING_NAME = "Service informatique\n\nVotre compte expire : https://faux.example/"


@pytest.fixture
def spoofing_admin(member_admin):
    """An administrator whose « Mon compte » name is a message of its own."""
    member_admin.first_name, member_admin.last_name = SPOOFING_NAME, ""
    member_admin.save(update_fields=["first_name", "last_name"])
    return member_admin


def opening(text: str) -> str:
    """The subject-like head of a message: its first three non-empty lines."""
    return "\n".join([line for line in text.splitlines() if line.strip()][:3])


@pytest.mark.parametrize("existing", [False, True], ids=["invitation", "member_added"])
def test_the_inviters_name_is_neither_in_the_subject_nor_the_opening_but_on_one_labelled_line(
    existing, client_for, ej, spoofing_admin, other_member
):
    email = other_member.email if existing else "nouvelle@chu-exemple.fr"
    client_for(spoofing_admin).post(members_url(ej), {"email": email, "role": "lecteur"})

    [message] = mail.outbox
    assert "Service informatique" not in message.subject
    assert "Service informatique" not in opening(message.body)
    fact = "Vous avez été ajouté aux membres de" if existing else "Vous êtes invité à rejoindre"
    assert f"{fact} l'entité juridique {ej.finess} - {ej.name} sur e-CARS" in opening(message.body)
    # The name, on one line, after its label; it adds no line of its own.
    name = "Service informatique Votre compte expire : https://faux.example/"
    label_line = f"Invitation envoyée par : {name} ({spoofing_admin.email})"
    assert label_line in message.body.splitlines()
    assert "Votre compte expire : https://faux.example/" not in [line.strip() for line in message.body.splitlines()]
    html, _ = message.alternatives[0]
    assert "Service informatique" not in html.split("Invitation envoyée par")[0]
    assert html.count("Service informatique") == 1


def test_an_overlong_or_tricky_name_is_cut_and_flattened(client_for, ej, member_admin):
    member_admin.first_name, member_admin.last_name = "A\u202eB\u2028C" + "x" * 140, "Z"
    member_admin.save(update_fields=["first_name", "last_name"])

    client_for(member_admin).post(members_url(ej), {"email": "nouvelle@chu-exemple.fr", "role": "lecteur"})

    [line] = [line for line in mail.outbox[0].body.splitlines() if line.startswith("Invitation envoyée par")]
    assert "\u202e" not in line and "\u2028" not in line
    assert line.startswith("Invitation envoyée par : A B Cxxx")
    assert "…" in line and len(line) < len("Invitation envoyée par : ") + 80 + len(member_admin.email) + 4


@pytest.mark.django_db(transaction=True)
def test_the_invitation_headers_carry_only_the_portals_words(client_for, settings, smtp_server, region):
    """Through a real SMTP server: no header carries what the inviter typed."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.hostname, smtp_server.port
    ej = EntiteJuridiqueFactory(region=region)
    admin = MembershipFactory(ej=ej, signataire=True, admin=True, user__first_name=SPOOFING_NAME).user

    client_for(admin).post(members_url(ej), {"email": "nouvelle@chu-exemple.fr", "role": "lecteur"})

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["nouvelle@chu-exemple.fr"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert str(message["Subject"]).strip() == f"[e-CARS] Vous êtes invité à rejoindre l'entité juridique {ej.name}"
    assert message["To"] == "nouvelle@chu-exemple.fr"
    for header, value in message.items():
        assert "Service informatique" not in str(value), header
        assert "faux.example" not in str(value), header
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Bonjour,")
    assert "Invitation envoyée par : Service informatique Votre compte expire" in text


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
