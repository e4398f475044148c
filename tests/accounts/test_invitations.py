"""First credentials (SECURITY.md A6, A13, D5): invitation links that let the user choose a password,
the manual's temporary password, and the admin actions that send them."""

import datetime
import hashlib
import re

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts import invitations
from accounts.models import Invitation, User
from audit.enums import EventType
from audit.models import AuditEvent
from ecars.lib.http import request_context
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import log_in
from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory


SITE_URL = "https://ecars.sante.example"
NEW_PASSWORD = "Gr4nd-Soleil-Ouest!"
INVALID_LINK = "Ce lien n'est plus valable"


@pytest.fixture(autouse=True)
def site_url(settings):
    """Links in e-mails come from SITE_URL, never from the request's Host (the test client's is « testserver »)."""
    settings.SITE_URL = SITE_URL


@pytest.fixture
def send_mail(django_capture_on_commit_callbacks):
    """Run what waits for the commit (the queued e-mails) at the end of the block, for services called
    directly (the test client already does it for requests)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def newcomer(ej):
    """An establishment account created by the ARS, without a password yet, member of `ej`."""
    user = UserFactory(email="nouvelle.collegue@chu-exemple.fr", password=None)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    MembershipFactory(user=user, ej=ej)
    return user


def invite(user, acting_user, send_mail) -> str:
    """Send an invitation and return the link of the e-mail."""
    with send_mail():
        invitations.send_invitation(user, acting_user=acting_user)
    return link_in(mail.outbox[-1].body)


def link_in(text: str) -> str:
    return re.search(rf"{re.escape(SITE_URL)}/compte/invitation/[\w-]+/", text).group(0)


def path_of(link: str) -> str:
    return link.removeprefix(SITE_URL)


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def accept(client, link, password=NEW_PASSWORD):
    client.get(path_of(link))
    return client.post(reverse("accounts:accept_invitation"), {"password1": password, "password2": password})


# Invitation e-mail and link


def test_invitation_email_is_french_with_html_and_a_link_built_from_site_url(newcomer, ars_staff, send_mail):
    link = invite(newcomer, ars_staff, send_mail)

    [message] = mail.outbox
    assert message.subject == "[e-CARS] Activez votre compte"
    assert message.to == ["nouvelle.collegue@chu-exemple.fr"]
    assert "Pour activer votre compte, ouvrez le lien ci-dessous et choisissez votre mot de passe" in message.body
    assert "Ce lien ne sert qu'une fois" in message.body  # plain text: no HTML escaping
    assert link.startswith(f"{SITE_URL}/compte/invitation/")
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    assert "Activer mon compte" in html


def test_invitation_link_works_once(newcomer, ars_staff, send_mail, client_for):
    link = invite(newcomer, ars_staff, send_mail)

    response = accept(client_for(), link)

    assertRedirects(response, reverse("contracts:home"))
    response = accept(client_for(), link, password="Autre-Mot-2-Passe!")
    assertContains(response, INVALID_LINK)
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)


def test_the_link_leaves_the_address_bar_for_a_page_without_the_token(newcomer, ars_staff, send_mail, client):
    """The token goes into the session: it stays out of the address bar, the history and any Referer."""
    link = invite(newcomer, ars_staff, send_mail)

    response = client.get(path_of(link))

    assertRedirects(response, reverse("accounts:accept_invitation"))
    response = client.get(reverse("accounts:accept_invitation"))
    assertContains(response, "Activer votre compte")
    assertContains(response, "nouvelle.collegue@chu-exemple.fr")
    assertContains(response, "Nouveau mot de passe")
    assertContains(response, "Confirmer le nouveau mot de passe")
    assertContains(response, "Règles du mot de passe")
    assertNotContains(response, token_of(link))
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_only_the_hash_of_the_token_is_stored(newcomer, ars_staff, send_mail):
    link = invite(newcomer, ars_staff, send_mail)
    token = token_of(link)

    invitation = Invitation.objects.get(user=newcomer)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(value) for value in Invitation.objects.values_list(flat=False).get(pk=invitation.pk)]
    assert not any(token in value for value in stored)
    assert not any(token in str(event.data) for event in AuditEvent.objects.all())


def test_invitation_expires_after_the_configured_days(newcomer, ars_staff, settings):
    before = timezone.now()
    invitation = invitations.send_invitation(newcomer, acting_user=ars_staff)

    assert invitation.expires_at - before >= datetime.timedelta(days=settings.INVITATION_VALIDITY_DAYS)
    assert invitation.expires_at - before < datetime.timedelta(days=settings.INVITATION_VALIDITY_DAYS, minutes=1)


def test_a_new_invitation_voids_the_earlier_ones(newcomer, ars_staff, send_mail, client_for):
    first_link = invite(newcomer, ars_staff, send_mail)
    second_link = invite(newcomer, ars_staff, send_mail)

    assertContains(accept(client_for(), first_link), INVALID_LINK)
    assertRedirects(accept(client_for(), second_link), reverse("contracts:home"))


def test_sending_an_invitation_is_audited_with_actor_and_ip(newcomer, ars_staff, rf):
    request = rf.post("/admin/", REMOTE_ADDR="203.0.113.7")

    invitations.send_invitation(newcomer, acting_user=ars_staff, context=request_context(request))

    [event] = AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT)
    assert event.actor == ars_staff
    assert event.ip_address == "203.0.113.7"
    assert event.object_id == str(newcomer.public_id)
    assert event.data == {"method": "invitation"}


# Unusable links


@pytest.fixture
def unusable_link(request, newcomer, ars_staff, send_mail, client_for):
    """A link that no longer works: expired, already used, or never issued."""
    link = invite(newcomer, ars_staff, send_mail)
    if request.param == "expired":
        Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif request.param == "used":
        accept(client_for(), link)
    elif request.param == "unknown":
        link = f"{SITE_URL}/compte/invitation/{'A' * 43}/"
    return link


@pytest.mark.parametrize("unusable_link", ["expired", "used", "unknown"], indirect=True)
def test_an_unusable_link_gives_the_same_page_and_changes_nothing(unusable_link, newcomer, client):
    """Expired, used and unknown links answer one and the same page: it reveals nothing about the link."""
    password_before = User.objects.get(pk=newcomer.pk).password
    events_before = AuditEvent.objects.count()

    response = client.get(path_of(unusable_link), follow=True)
    post_response = client.post(
        reverse("accounts:accept_invitation"), {"password1": "Encore-1-Essai!", "password2": "Encore-1-Essai!"}
    )

    assert response.status_code == post_response.status_code == 200
    assertContains(response, INVALID_LINK)
    assertContains(response, "Demandez une nouvelle invitation à votre ARS ou à l'administrateur des membres")
    assert response.content == post_response.content
    assert User.objects.get(pk=newcomer.pk).password == password_before
    assert AuditEvent.objects.count() == events_before
    assert "_auth_user_id" not in client.session


def test_the_three_unusable_cases_render_identical_pages(newcomer, ars_staff, send_mail, client_for):
    """The page of an expired link is byte for byte the page of a used one and of an unknown one."""
    expired = invite(UserFactory(), ars_staff, send_mail)
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    used = invite(newcomer, ars_staff, send_mail)
    accept(client_for(), used)
    unknown = f"{SITE_URL}/compte/invitation/{'A' * 43}/"

    pages = {client_for().get(path_of(link), follow=True).content for link in (expired, used, unknown)}

    assert len(pages) == 1


def test_an_expired_link_is_refused_even_if_the_page_was_opened_before(newcomer, ars_staff, send_mail, client):
    link = invite(newcomer, ars_staff, send_mail)
    client.get(path_of(link))

    with time_machine.travel(timezone.now() + datetime.timedelta(days=7, minutes=1)):
        response = client.post(
            reverse("accounts:accept_invitation"), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )

    assertContains(response, INVALID_LINK)
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()


def test_an_invitation_of_a_deactivated_account_no_longer_works(newcomer, ars_staff, send_mail, client):
    link = invite(newcomer, ars_staff, send_mail)
    User.objects.filter(pk=newcomer.pk).update(is_active=False)

    assertContains(accept(client, link), INVALID_LINK)


# Choosing the password


def test_a_weak_password_is_refused_with_the_rules_and_nothing_is_stored(newcomer, ars_staff, send_mail, client):
    link = invite(newcomer, ars_staff, send_mail)

    response = accept(client, link, password="soleil")

    assert response.status_code == 200
    assertContains(response, "Le mot de passe doit comporter au moins 12 caractères.")
    assertContains(response, "Le mot de passe doit contenir une lettre majuscule.")
    assertContains(response, "Le mot de passe doit contenir un chiffre.")
    assertContains(response, "Règles du mot de passe")
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()
    assert Invitation.objects.get(user=newcomer).used_at is None
    assert not AuditEvent.objects.filter(event_type=EventType.INVITATION_ACCEPTED).exists()
    assert "_auth_user_id" not in client.session
    # The link still works afterwards.
    assertRedirects(
        client.post(reverse("accounts:accept_invitation"), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
        reverse("contracts:home"),
    )


def test_two_different_passwords_are_refused(newcomer, ars_staff, send_mail, client):
    link = invite(newcomer, ars_staff, send_mail)
    client.get(path_of(link))

    response = client.post(
        reverse("accounts:accept_invitation"), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )

    assertContains(response, "Les deux mots de passe ne sont pas identiques.")
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()


def test_acceptance_logs_in_marks_the_invitation_used_and_is_audited(newcomer, ej, ars_staff, send_mail, client):
    link = invite(newcomer, ars_staff, send_mail)

    response = accept(client, link)

    assertRedirects(response, reverse("contracts:home"), fetch_redirect_response=False)
    home = client.get(reverse("contracts:home"))
    assertContains(home, "Votre mot de passe est enregistré : bienvenue sur e-CARS.")
    assertContains(home, ej.name)
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)
    assert newcomer.password_changed_at is not None
    assert Invitation.objects.get(user=newcomer).used_at is not None
    assert EmailAddress.objects.filter(user=newcomer, email=newcomer.email, verified=True, primary=True).exists()
    [changed] = AuditEvent.objects.filter(event_type=EventType.INVITATION_ACCEPTED)
    assert (changed.actor, changed.ip_address) == (newcomer, "127.0.0.1")
    assert AuditEvent.objects.filter(event_type=EventType.LOGIN_SUCCEEDED, actor=newcomer).count() == 1


def test_acceptance_forgets_the_token_in_the_session(newcomer, ars_staff, send_mail, client):
    link = invite(newcomer, ars_staff, send_mail)

    accept(client, link)

    assert not any(token_of(link) == value for value in client.session.values())


def test_acceptance_clears_a_pending_temporary_password(newcomer, ars_staff, send_mail, client):
    with send_mail():
        invitations.send_temporary_password(newcomer, acting_user=ars_staff)
    link = invite(newcomer, ars_staff, send_mail)

    assertRedirects(accept(client, link), reverse("contracts:home"))

    newcomer.refresh_from_db()
    assert not newcomer.password_must_change
    assert newcomer.temporary_password_expires_at is None
    assert client.get(reverse("accounts:account")).status_code == 200


# The manual's temporary password


def temporary_password_in(text: str) -> str:
    return re.search(r"Mot de passe temporaire : (\S+)", text).group(1)


def test_temporary_password_email_is_french_with_html(newcomer, ars_staff, send_mail):
    with send_mail():
        invitations.send_temporary_password(newcomer, acting_user=ars_staff)

    [message] = mail.outbox
    assert message.subject == "[e-CARS] Votre mot de passe temporaire"
    assert message.to == [newcomer.email]
    assert "vous devrez obligatoirement remplacer ce mot de passe temporaire" in message.body
    assert f"{SITE_URL}/accounts/login/" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "Mot de passe temporaire" in html


def test_temporary_password_works_for_login_then_forces_the_renewal(newcomer, ars_staff, send_mail, client):
    with send_mail():
        invitations.send_temporary_password(newcomer, acting_user=ars_staff)
    password = temporary_password_in(mail.outbox[0].body)

    response = log_in(client, newcomer.email, password)

    assert response.status_code == 302
    for page in (reverse("contracts:home"), reverse("accounts:account")):
        assertRedirects(client.get(page), reverse("accounts:renew_password"), fetch_redirect_response=False)
    newcomer.refresh_from_db()
    assert newcomer.password_must_change
    assert newcomer.temporary_password_expires_at - timezone.now() > datetime.timedelta(hours=71)


def test_temporary_password_meets_the_password_rules(newcomer):
    for _ in range(20):
        validate_password(invitations.generate_temporary_password(newcomer), newcomer)


def test_temporary_password_older_than_72_hours_is_refused_at_login(newcomer, ars_staff, send_mail, client):
    with send_mail():
        invitations.send_temporary_password(newcomer, acting_user=ars_staff)
    password = temporary_password_in(mail.outbox[0].body)

    with time_machine.travel(timezone.now() + datetime.timedelta(hours=72, minutes=1)):
        response = log_in(client, newcomer.email, password)

    assert response.status_code == 200
    assertContains(response, "Votre mot de passe temporaire a expiré.")
    assert "_auth_user_id" not in client.session


def test_temporary_password_still_works_just_before_72_hours(newcomer, ars_staff, send_mail, client):
    with send_mail():
        invitations.send_temporary_password(newcomer, acting_user=ars_staff)
    password = temporary_password_in(mail.outbox[0].body)

    with time_machine.travel(timezone.now() + datetime.timedelta(hours=71, minutes=59)):
        response = log_in(client, newcomer.email, password)

    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_sending_a_temporary_password_voids_pending_invitations_and_is_audited(newcomer, ars_staff, send_mail, rf):
    link = invite(newcomer, ars_staff, send_mail)

    invitations.send_temporary_password(
        newcomer, acting_user=ars_staff, context=request_context(rf.post("/", REMOTE_ADDR="198.51.100.4"))
    )

    assert invitations.find_usable_invitation(token_of(link)) is None
    event = AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT).order_by("-id").first()
    assert event.data == {"method": "temporary_password"}
    assert (event.actor, event.ip_address) == (ars_staff, "198.51.100.4")


# Admin actions


def run_action(client, action, users):
    return client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [user.pk for user in users]},
        follow=True,
    )


@pytest.mark.parametrize(
    ("action", "subject", "notice"),
    [
        ("send_invitations", "[e-CARS] Activez votre compte", "2 invitations envoyées par courriel."),
        (
            "send_temporary_passwords",
            "[e-CARS] Votre mot de passe temporaire",
            "2 mots de passe temporaires envoyés par courriel.",
        ),
    ],
)
def test_admin_actions_send_the_emails_and_skip_staff_and_inactive_accounts(
    action, subject, notice, ej, region, ars_staff, client_for
):
    first, second = (MembershipFactory(ej=ej).user for _ in range(2))
    colleague = UserFactory(ars_staff=True, region=region, email="collegue@ars.sante.fr")
    inactive = MembershipFactory(ej=ej, user=UserFactory(is_active=False, email="parti@chu-exemple.fr")).user

    response = run_action(client_for(ars_staff), action, [first, second, colleague, inactive])

    assert response.status_code == 200
    assert sorted(message.to[0] for message in mail.outbox) == sorted([first.email, second.email])
    assert {message.subject for message in mail.outbox} == {subject}
    assertContains(response, notice)
    assertContains(response, "collegue@ars.sante.fr, parti@chu-exemple.fr")
    assert AuditEvent.objects.filter(event_type=EventType.INVITATION_SENT, actor=ars_staff).count() == 2


def test_admin_action_cannot_reach_an_account_of_another_region(other_region, ars_staff, client_for):
    """Agency staff act only on the accounts of their region: others are not even in the selection."""
    foreign = MembershipFactory(ej=EntiteJuridiqueFactory(region=other_region)).user

    run_action(client_for(ars_staff), "send_invitations", [foreign])

    assert mail.outbox == []
    assert not Invitation.objects.exists()
