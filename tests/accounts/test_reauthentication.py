"""Every check of a signed-in user's current password (or TOTP code) is throttled like the login (issue 9).

« Modifier l'adresse » took 30 wrong passwords in 4 s, then the right one. Wherever the portal checks the
current password — « Modifier l'adresse », « Modifier le mot de passe », allauth's reauthentication
page (before the TOTP pages) — a wrong one counts in the login's own limits (5 in 5 minutes, 25 a day,
per account; and per IP address); over the limit even the right one is refused, with a French message
and an audit event, until the window has passed. The reauthentication by TOTP code is held to the same.
"""

import datetime

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import GOOD_PASSWORD, log_in
from tests.conftest import Client


WRONG = "Pas-le-bon-2031!"
TOO_MANY_PASSWORDS = "Trop de tentatives avec un mot de passe incorrect"
LOGIN_THROTTLED = "Trop de tentatives de connexion infructueuses."
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def user():
    return UserFactory(email="signataire@chu-exemple.fr")


@pytest.fixture
def client(client_for, user):
    return client_for(user)


def throttled_events(user, action):
    return AuditEvent.objects.filter(event_type=EventType.LOGIN_THROTTLED, actor=user, data__action=action)


# --- « Modifier l'adresse » ------------------------------------------------------------------------


def change_email(client, password):
    return client.post(reverse("accounts:change_email"), {"email": "nouvelle@chu-exemple.fr", "password": password})


def test_after_five_wrong_passwords_the_address_change_refuses_even_the_right_one(client, user):
    for _ in range(5):
        assertContains(change_email(client, WRONG), "Mot de passe incorrect.")

    response = change_email(client, DEFAULT_PASSWORD)

    assert response.status_code == 200
    assertContains(response, TOO_MANY_PASSWORDS)
    assertNotContains(response, "Mot de passe incorrect.")
    assert mail.outbox == []  # no code sent to the new address
    assert "ecars_email_change" not in client.session
    user.refresh_from_db()
    assert user.email == "signataire@chu-exemple.fr"
    [event] = throttled_events(user, "reauthenticate")
    assert (event.ip_address, event.data["email"]) == ("127.0.0.1", user.email)
    failed = AuditEvent.objects.filter(event_type=EventType.LOGIN_FAILED, actor=user, data__action="reauthenticate")
    assert failed.count() == 5


def test_the_address_change_accepts_the_right_password_once_the_window_has_passed(client, user):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            change_email(client, WRONG)
        assertContains(change_email(client, DEFAULT_PASSWORD), TOO_MANY_PASSWORDS)
        traveller.shift(datetime.timedelta(minutes=5, seconds=1))

        response = change_email(client, DEFAULT_PASSWORD)

    assertRedirects(response, reverse("accounts:confirm_email_change"))
    assert [message.to for message in mail.outbox] == [["nouvelle@chu-exemple.fr"]]


def test_the_right_password_takes_its_try_back(client, user):
    """As at the login: a success does not count against the owner who mistyped before."""
    for _ in range(4):
        change_email(client, WRONG)
    assertRedirects(change_email(client, DEFAULT_PASSWORD), reverse("accounts:confirm_email_change"))
    assertContains(change_email(client, WRONG), "Mot de passe incorrect.")  # the 5th failure, still allowed
    assertContains(change_email(client, DEFAULT_PASSWORD), TOO_MANY_PASSWORDS)


def test_wrong_passwords_on_my_account_count_like_failed_logins(client, user):
    """One budget per account: a stolen session gives no guesses beyond the login's."""
    for _ in range(5):
        change_email(client, WRONG)

    assertContains(log_in(Client(), user.email, DEFAULT_PASSWORD), LOGIN_THROTTLED)


def test_failed_logins_count_against_the_address_change(client, user):
    for _ in range(5):
        log_in(Client(), user.email, WRONG)

    assertContains(change_email(client, DEFAULT_PASSWORD), TOO_MANY_PASSWORDS)
    assert mail.outbox == []


def test_at_most_twenty_five_wrong_passwords_a_day(client_for, user):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(user)
        for _ in range(5):
            for _ in range(5):
                assertContains(change_email(client, WRONG), "Mot de passe incorrect.")
            traveller.shift(datetime.timedelta(minutes=6))
        assertContains(change_email(client, DEFAULT_PASSWORD), TOO_MANY_PASSWORDS)  # the 26th try of the day
        traveller.shift(datetime.timedelta(hours=23))
        client = client_for(user)  # sessions end after 30 idle minutes: a new one, the same account
        assertContains(change_email(client, DEFAULT_PASSWORD), TOO_MANY_PASSWORDS)
        traveller.shift(datetime.timedelta(hours=1))
        client = client_for(user)

        assertRedirects(change_email(client, DEFAULT_PASSWORD), reverse("accounts:confirm_email_change"))


def test_one_client_address_gets_at_most_its_ceiling_of_wrong_passwords_a_minute(client_for, user, settings):
    """Per IP address too: sessions of many accounts (stolen, say) do not multiply the guesses beyond the
    per-address ceiling of `login_failed` (read from the settings: 5 wrong passwords per account each)."""
    ceiling = next(
        int(rate.split("/")[0])
        for rate in settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
        if rate.endswith("/m/ip")
    )
    with time_machine.travel(timezone.now(), tick=False):
        for account in UserFactory.create_batch(ceiling // 5):
            session = client_for(account)
            for _ in range(5):
                assertContains(change_email(session, WRONG), "Mot de passe incorrect.")

        response = change_email(client_for(user), DEFAULT_PASSWORD)

    assertContains(response, TOO_MANY_PASSWORDS)
    assert mail.outbox == []


def test_a_colleague_behind_the_same_address_is_not_locked_out(client, user):
    colleague = UserFactory()
    for _ in range(6):
        change_email(client, WRONG)

    response = Client().post(reverse("account_login"), {"login": colleague.email, "password": DEFAULT_PASSWORD})
    assertRedirects(response, reverse("contracts:home"), fetch_redirect_response=False)


# --- « Modifier le mot de passe » (allauth's page, our form) ------------------------------------------


def change_password(client, old_password):
    return client.post(
        reverse("account_change_password"),
        {"oldpassword": old_password, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )


def test_after_five_wrong_current_passwords_the_password_change_refuses_even_the_right_one(client, user):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        # 50 s apart: under the page's own 5 a minute, within the login's 5 in 5 minutes.
        for _ in range(5):
            assert change_password(client, WRONG).status_code == 200
            traveller.shift(datetime.timedelta(seconds=50))

        response = change_password(client, DEFAULT_PASSWORD)

        assertContains(response, TOO_MANY_PASSWORDS)
        user.refresh_from_db()
        assert user.check_password(DEFAULT_PASSWORD)
        assert mail.outbox == []  # no « mot de passe modifié » notice
        assert throttled_events(user, "reauthenticate").count() == 1

        traveller.shift(datetime.timedelta(minutes=5))
        response = change_password(client, DEFAULT_PASSWORD)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)


def test_a_wrong_current_password_is_still_refused_in_french(client, user):
    response = change_password(client, WRONG)
    assertContains(response, "Merci d&#x27;indiquer votre mot de passe actuel.")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


# --- allauth's reauthentication page (before the TOTP pages) -------------------------------------------


def reauthenticate(client, password):
    return client.post(reverse("account_reauthenticate"), {"password": password})


def test_after_five_wrong_passwords_the_reauthentication_refuses_even_the_right_one(client, user):
    for _ in range(5):
        assert reauthenticate(client, WRONG).status_code == 200

    response = reauthenticate(client, DEFAULT_PASSWORD)

    assert response.status_code == 200  # not sent on: not reauthenticated
    assertContains(response, TOO_MANY_PASSWORDS)
    assert throttled_events(user, "reauthenticate").count() == 1


def test_the_reauthentication_accepts_the_right_password_when_not_throttled(client, user):
    reauthenticate(client, WRONG)
    assert reauthenticate(client, DEFAULT_PASSWORD).status_code == 302


# --- Reauthentication by TOTP code ---------------------------------------------------------------------


def current_totp_code():
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(TOTP_SECRET, counters[len(counters) // 2]))


def test_after_five_wrong_codes_the_totp_reauthentication_refuses_even_the_right_one(client, user):
    TOTP.activate(user, TOTP_SECRET)
    right = current_totp_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assertContains(client.post(reverse("mfa_reauthenticate"), {"code": wrong}), "Code incorrect")

    response = client.post(reverse("mfa_reauthenticate"), {"code": right})

    assert response.status_code == 200
    assertContains(response, "Trop de codes incorrects")
    [event] = throttled_events(user, "mfa_reauthenticate")
    assert event.ip_address == "127.0.0.1"
