"""« Mon compte »: identity, address change, password change, sessions, TOTP, EJ and roles."""

import datetime
import re
import time

import time_machine
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD
from tests.accounts.helpers import GOOD_PASSWORD, log_in
from tests.conftest import Client


def logged_in_client(user, password=DEFAULT_PASSWORD):
    """A real login (so that a user session is recorded), not force_login."""
    client = Client(HTTP_USER_AGENT="Navigateur de test")
    assert log_in(client, user.email, password).status_code == 302
    return client


def test_my_account_shows_every_section(client_for, member, ej):
    response = client_for(member).get(reverse("accounts:account"))
    for words in (
        "Identité",
        "Adresse de messagerie",
        "Modifier mon adresse de messagerie",
        "Modifier mon mot de passe",
        "Activer la double authentification",
        "Mes sessions actives",
        "Mes entités juridiques",
        str(ej),
        "signataire",
    ):
        assertContains(response, words)


def test_identity_is_saved(client_for, member):
    response = client_for(member).post(
        reverse("accounts:account"), {"last_name": "Martin", "first_name": "Claire", "phone": "04 76 76 75 75"}
    )
    assertRedirects(response, reverse("accounts:account"))
    member.refresh_from_db()
    assert (member.last_name, member.first_name, member.phone) == ("Martin", "Claire", "04 76 76 75 75")


def test_a_bad_phone_number_is_refused_and_nothing_saved(client_for, member):
    response = client_for(member).post(
        reverse("accounts:account"), {"last_name": "Martin", "first_name": "Claire", "phone": "appelez-moi"}
    )
    assertContains(response, "Saisissez un numéro de téléphone valide")
    assertContains(response, 'value="Claire"')  # what was typed is kept
    member.refresh_from_db()
    assert member.last_name != "Martin"


def test_roles_cannot_be_changed_from_my_account(client_for, member, ej):
    client_for(member).post(
        reverse("accounts:account"), {"last_name": "X", "first_name": "Y", "phone": "", "role": "signataire"}
    )
    assert member.memberships.get().ej == ej


# --- E-mail address ----------------------------------------------------------------------------


def code_sent_to(address):
    message = [m for m in mail.outbox if m.to == [address]][-1]
    return re.search(r"^(\d{6})$", message.body, re.MULTILINE).group(1)


def test_changing_the_address_needs_the_current_password(client_for, member):
    old_email = member.email
    response = client_for(member).post(
        reverse("accounts:change_email"), {"email": "nouvelle@chu.fr", "password": "Pas-le-bon-2031!"}
    )
    assertContains(response, "Mot de passe incorrect.")
    assert mail.outbox == []
    member.refresh_from_db()
    assert member.email == old_email


def test_the_new_address_is_proven_by_a_code_and_the_old_one_is_warned(client_for, member):
    old_email = member.email
    client = client_for(member)
    response = client.post(
        reverse("accounts:change_email"), {"email": "Nouvelle@CHU.fr", "password": DEFAULT_PASSWORD}
    )
    assertRedirects(response, reverse("accounts:confirm_email_change"))
    code = code_sent_to("nouvelle@chu.fr")
    member.refresh_from_db()
    assert member.email == old_email  # nothing changes before the code

    response = client.post(reverse("accounts:confirm_email_change"), {"code": code})
    assertRedirects(response, reverse("accounts:account"))
    member.refresh_from_db()
    assert member.email == "nouvelle@chu.fr"
    assert EmailAddress.objects.get(user=member).email == "nouvelle@chu.fr"
    [notice] = [m for m in mail.outbox if m.to == [old_email]]
    assert notice.subject == "[e-CARS] Votre adresse de messagerie a été modifiée"
    assert "nouvelle@chu.fr" in notice.body
    event = AuditEvent.objects.get(event_type=EventType.EMAIL_CHANGED)
    assert event.data == {"from": old_email, "to": "nouvelle@chu.fr"}
    # The new address is the login now.
    assert log_in(Client(), "nouvelle@chu.fr", DEFAULT_PASSWORD).status_code == 302


def test_three_wrong_codes_cancel_the_address_change(client_for, member):
    old_email = member.email
    client = client_for(member)
    client.post(reverse("accounts:change_email"), {"email": "nouvelle@chu.fr", "password": DEFAULT_PASSWORD})
    code = code_sent_to("nouvelle@chu.fr")
    wrong = "000000" if code != "000000" else "111111"
    assertContains(
        client.post(reverse("accounts:confirm_email_change"), {"code": wrong}), "Code de vérification incorrect."
    )
    client.post(reverse("accounts:confirm_email_change"), {"code": wrong})
    response = client.post(reverse("accounts:confirm_email_change"), {"code": wrong})
    assertRedirects(response, reverse("accounts:change_email"))
    client.post(reverse("accounts:confirm_email_change"), {"code": code})
    member.refresh_from_db()
    assert member.email == old_email


def test_the_address_code_only_works_in_the_session_that_asked_for_it(client_for, member):
    client_for(member).post(
        reverse("accounts:change_email"), {"email": "nouvelle@chu.fr", "password": DEFAULT_PASSWORD}
    )
    other_session = client_for(member)
    other_session.post(reverse("accounts:confirm_email_change"), {"code": code_sent_to("nouvelle@chu.fr")})
    member.refresh_from_db()
    assert member.email != "nouvelle@chu.fr"


def test_allauths_address_management_is_replaced_by_ours(client_for, member):
    """allauth's own page would let a user add an unverified address: it is ours at its address."""
    response = client_for(member).post(reverse("account_email"), {"email": "autre@chu.fr", "action_add": ""})
    assertContains(response, "Mot de passe actuel")
    assert not EmailAddress.objects.filter(email="autre@chu.fr").exists()


# --- Password change ---------------------------------------------------------------------------


def test_password_change_needs_the_current_password_and_warns_by_email(member):
    client = logged_in_client(member)
    url = reverse("account_change_password")
    response = client.post(
        url, {"oldpassword": "Pas-le-bon-2031!", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.check_password(DEFAULT_PASSWORD)

    response = client.post(url, {"oldpassword": DEFAULT_PASSWORD, "password1": "court", "password2": "court"})
    assertContains(response, "Le mot de passe doit comporter au moins 12 caractères.")

    client.post(url, {"oldpassword": DEFAULT_PASSWORD, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    member.refresh_from_db()
    assert member.check_password(GOOD_PASSWORD)
    assert mail.outbox[-1].to == [member.email]
    assert mail.outbox[-1].subject == "[e-CARS] Votre mot de passe a été modifié"
    assert AuditEvent.objects.filter(event_type=EventType.PASSWORD_CHANGED, actor=member).exists()
    assert client.get(reverse("contracts:home")).status_code == 200  # this session goes on


def test_a_password_change_signs_the_other_sessions_out(member):
    laptop = logged_in_client(member)
    phone = logged_in_client(member)
    laptop.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert laptop.get(reverse("contracts:home")).status_code == 200
    assert phone.get(reverse("contracts:home")).status_code == 302


# --- Sessions ----------------------------------------------------------------------------------


def test_sessions_are_listed_and_each_can_be_ended(member):
    laptop = logged_in_client(member)
    phone = logged_in_client(member)
    response = laptop.get(reverse("accounts:account"))
    assertContains(response, "Cette session")
    assertContains(response, "Navigateur de test")
    other = UserSession.objects.exclude(session_key=laptop.session.session_key).get(user=member)
    assertContains(response, "Terminer</button>", count=1)

    response = laptop.post(reverse("accounts:end_session"), {"session": other.pk})
    assertRedirects(response, reverse("accounts:account") + "#sessions", fetch_redirect_response=False)
    assert phone.get(reverse("contracts:home")).status_code == 302
    assert laptop.get(reverse("contracts:home")).status_code == 200
    assert AuditEvent.objects.filter(event_type=EventType.SESSION_ENDED, actor=member).exists()


def test_the_sessions_of_someone_else_cannot_be_ended(member, other_member):
    theirs = logged_in_client(other_member)
    mine = logged_in_client(member)
    their_session = UserSession.objects.get(user=other_member)
    assert mine.post(reverse("accounts:end_session"), {"session": their_session.pk}).status_code == 404
    assert theirs.get(reverse("contracts:home")).status_code == 200


# --- TOTP and the admin ------------------------------------------------------------------------


def test_staff_without_totp_are_sent_to_set_it_up(client, ars_staff):
    client.force_login(ars_staff)
    response = client.get(reverse("admin:index"))
    assertRedirects(response, reverse("mfa_activate_totp"), fetch_redirect_response=False)


def test_staff_with_totp_but_not_used_in_this_session_must_enter_a_code(client, ars_staff, client_for):
    client_for(ars_staff)  # sets TOTP up for this agent
    client.force_login(ars_staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))


def test_staff_who_used_totp_reach_the_admin(client_for, ars_staff):
    assert client_for(ars_staff).get(reverse("admin:index")).status_code == 200


def test_totp_is_optional_for_establishment_users(client_for, member):
    assert client_for(member).get(reverse("contracts:home")).status_code == 200


# --- Session lifetime (SECURITY.md B2) ----------------------------------------------------------


def test_a_session_ends_after_thirty_idle_minutes(member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = logged_in_client(member)
        traveller.shift(datetime.timedelta(minutes=29))
        assert client.get(reverse("contracts:home")).status_code == 200
        traveller.shift(datetime.timedelta(minutes=29))  # activity renewed the delay
        assert client.get(reverse("contracts:home")).status_code == 200
        traveller.shift(datetime.timedelta(minutes=31))
        assert client.get(reverse("contracts:home")).status_code == 302


def test_a_session_ends_eight_hours_after_the_login_however_active(member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = logged_in_client(member)
        for _ in range(16):
            traveller.shift(datetime.timedelta(minutes=29))
            assert client.get(reverse("contracts:home")).status_code == 200
        traveller.shift(datetime.timedelta(minutes=20))  # 8 h 04 after the login
        response = client.get(reverse("contracts:home"))
        assert response.status_code == 302
        assertContains(client.get(response["Location"]), "Votre session a expiré après 8 heures")


def test_refreshing_extends_the_idle_delay_but_not_past_eight_hours(member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = logged_in_client(member)
        traveller.shift(datetime.timedelta(minutes=25))
        response = client.post(reverse("accounts:refresh_session"), headers={"X-Requested-With": "fetch"})
        assert response.json()["seconds_left"] == 30 * 60
        traveller.shift(datetime.timedelta(minutes=25))
        assert client.get(reverse("contracts:home")).status_code == 200  # 50 minutes after the login
        for _ in range(15):
            traveller.shift(datetime.timedelta(minutes=28))
            client.post(reverse("accounts:refresh_session"), headers={"X-Requested-With": "fetch"})
        response = client.post(reverse("accounts:refresh_session"), headers={"X-Requested-With": "fetch"})
        # 7 h 50 after the login: 10 minutes are left, not 30.
        assert response.json()["seconds_left"] == 8 * 3600 - (50 + 15 * 28) * 60


def test_pages_tell_the_script_how_long_the_session_has_left(client_for, member):
    response = client_for(member).get(reverse("contracts:home"))
    assertContains(response, 'id="ecars-session"')
    assertContains(response, 'data-warning-seconds="300"')
    assertContains(response, "Prolonger la session")


def test_anonymous_pages_have_no_session_warning(client):
    assertNotContains(client.get(reverse("account_login")), 'id="ecars-session"')


def current_totp_code(secret):
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_totp_set_up_and_removal_are_audited_and_notified(member):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    client = logged_in_client(member)
    assert client.get(reverse("mfa_activate_totp"))["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": current_totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(event_type=EventType.TOTP_ACTIVATED, actor=member).exists()
    assert "[e-CARS] Double authentification activée" in [m.subject for m in mail.outbox]

    response = client.post(reverse("mfa_deactivate_totp"))
    assert not Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(event_type=EventType.TOTP_DEACTIVATED, actor=member).exists()


def test_an_agent_reaches_the_admin_through_password_then_totp_code(ars_staff):
    """The whole way in: password, then the authenticator's code, then the admin."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(ars_staff, secret)
    client = Client()
    response = log_in(client, ars_staff.email, DEFAULT_PASSWORD)
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("admin:index")).status_code == 302  # not signed in yet
    response = client.post(reverse("mfa_authenticate"), {"code": current_totp_code(secret)})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
