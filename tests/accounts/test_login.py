"""The manual's login, held to SECURITY.md A: generic errors, first-login renewal, cut-off, throttling."""

import datetime
from unittest import mock

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import LoginPolicy, User
from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import GOOD_PASSWORD, last_code, log_in, request_code, set_new_password, submit_code
from tests.conftest import Client
from tests.urlconf import all_routes


GENERIC_ERROR = "Adresse de messagerie ou mot de passe incorrect."
THROTTLED = "Trop de tentatives de connexion infructueuses."


@pytest.fixture
def user():
    return UserFactory(email="signataire@chu-exemple.fr")


def without_csrf(response):
    import re

    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)


def test_right_credentials_lead_home_and_are_audited(client, user):
    response = log_in(client, user.email, DEFAULT_PASSWORD)
    assertRedirects(response, reverse("contracts:home"))
    event = AuditEvent.objects.get(event_type=EventType.LOGIN_SUCCEEDED)
    assert (event.actor, event.ip_address) == (user, "127.0.0.1")


def test_login_ignores_the_case_of_the_address(client, user):
    assertRedirects(log_in(client, user.email.upper(), DEFAULT_PASSWORD), reverse("contracts:home"))


def test_wrong_password_and_unknown_address_get_the_same_answer(user):
    wrong_password = log_in(Client(), user.email, "Pas-le-bon-2031!")
    unknown = log_in(Client(), "inconnu@exemple.fr", "Pas-le-bon-2031!")
    assertContains(wrong_password, GENERIC_ERROR)
    assert wrong_password.status_code == unknown.status_code == 200
    assert without_csrf(wrong_password).replace(user.email.encode(), b"X") == without_csrf(unknown).replace(
        b"inconnu@exemple.fr", b"X"
    )
    assert AuditEvent.objects.filter(event_type=EventType.LOGIN_FAILED).count() == 2


def test_a_one_megabyte_password_is_refused_without_computing_a_hash(client, user):
    with (
        mock.patch.object(MD5PasswordHasher, "verify", autospec=True) as verify,
        mock.patch.object(MD5PasswordHasher, "encode", autospec=True) as encode,
    ):
        response = log_in(client, user.email, "A" * 1_000_000)
    assertContains(response, GENERIC_ERROR)
    verify.assert_not_called()
    encode.assert_not_called()


def test_next_pointing_to_another_site_is_ignored(client, user):
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": DEFAULT_PASSWORD, "next": "https://evil.example/vol"},
    )
    assert response["Location"] == reverse("contracts:home")


def test_next_on_this_site_is_followed(client, user):
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD, "next": "/compte/"}
    )
    assert response["Location"] == "/compte/"


def test_inactive_accounts_cannot_log_in(client, user):
    user.is_active = False
    user.save()
    response = log_in(client, user.email, DEFAULT_PASSWORD)
    assert client.get(reverse("contracts:home")).status_code == 302
    assert response.status_code in (200, 302)


# --- First login: the temporary password ------------------------------------------------------


@pytest.fixture
def newcomer():
    return UserFactory(
        temporary_password=True, temporary_password_expires_at=timezone.now() + datetime.timedelta(hours=72)
    )


RENEWAL_ALLOWED = {"accounts:renew_password", "account_logout", "accounts:refresh_session", "health"}


@pytest.mark.parametrize(
    "route", [r for r in all_routes() if r.name not in RENEWAL_ALLOWED and not r.name.startswith("admin:")], ids=str
)
def test_after_a_temporary_password_every_page_leads_to_the_renewal(client_for, newcomer, route):
    response = client_for(newcomer).get(route.path)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:renew_password")


def test_the_renewal_page_has_the_manuals_fields_and_rules(client, newcomer):
    assertRedirects(
        log_in(client, newcomer.email, DEFAULT_PASSWORD), reverse("contracts:home"), target_status_code=302
    )
    response = client.get(reverse("accounts:renew_password"))
    for words in ("Nouveau mot de passe", "Confirmer le nouveau mot de passe", "Continuer", "Règles du mot de passe"):
        assertContains(response, words)
    assertContains(response, 'autocomplete="new-password"')


def test_renewal_refuses_weak_passwords_and_the_temporary_one(client_for, newcomer):
    client = client_for(newcomer)
    url = reverse("accounts:renew_password")
    response = client.post(url, {"password1": "Ab1&xxxxxxx", "password2": "Ab1&xxxxxxx"})
    assertContains(response, "Le mot de passe doit comporter au moins 12 caractères.")
    response = client.post(url, {"password1": DEFAULT_PASSWORD, "password2": DEFAULT_PASSWORD})
    assertContains(response, "doit être différent du mot de passe temporaire")
    response = client.post(url, {"password1": GOOD_PASSWORD, "password2": "Autre-Mot-2031!"})
    assertContains(response, "Les deux mots de passe ne sont pas identiques.")
    newcomer.refresh_from_db()
    assert newcomer.password_must_change
    assert newcomer.check_password(DEFAULT_PASSWORD)


def test_renewal_replaces_the_temporary_password_for_good(client, newcomer):
    log_in(client, newcomer.email, DEFAULT_PASSWORD)
    response = client.post(
        reverse("accounts:renew_password"), {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assertRedirects(response, reverse("contracts:home"))
    newcomer.refresh_from_db()
    assert not newcomer.password_must_change
    assert newcomer.temporary_password_expires_at is None
    assert newcomer.password_changed_at is not None
    assert client.get(reverse("accounts:account")).status_code == 200  # still signed in, free to go
    assertContains(log_in(Client(), newcomer.email, DEFAULT_PASSWORD), GENERIC_ERROR)
    assert mail.outbox[-1].subject == "[e-CARS] Votre mot de passe a été modifié"
    assert AuditEvent.objects.filter(event_type=EventType.PASSWORD_CHANGED, actor=newcomer).exists()


def test_a_temporary_password_expires_after_72_hours(client, newcomer):
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=72, minutes=1)):
        response = log_in(client, newcomer.email, DEFAULT_PASSWORD)
    assertContains(response, "Votre mot de passe temporaire a expiré.")
    assert client.get(reverse("contracts:home")).status_code == 302


def test_an_expired_temporary_password_can_be_replaced_by_the_code_flow(client, newcomer):
    with time_machine.travel(timezone.now() + datetime.timedelta(days=10)):
        request_code(client, newcomer.email)
        submit_code(client, last_code(newcomer.email))
        set_new_password(client)
        response = log_in(Client(), newcomer.email, GOOD_PASSWORD)
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert not newcomer.password_must_change


# --- « Sans connexion depuis le … » -------------------------------------------------------------


@pytest.fixture
def cutoff():
    return LoginPolicy.objects.create(pk=1, renewal_cutoff=datetime.date(2026, 11, 3))


def test_the_login_page_announces_the_cutoff(client, cutoff):
    response = client.get(reverse("account_login"))
    assertContains(response, "Sans connexion depuis le 3 novembre 2026, merci de renouveler votre mot de passe.")


def test_no_cutoff_no_sentence(client):
    assertNotContains(client.get(reverse("account_login")), "Sans connexion depuis")


def test_an_account_silent_since_the_cutoff_must_renew_first(client, cutoff):
    silent = UserFactory(date_joined=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))
    User.objects.filter(pk=silent.pk).update(last_login=datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC))
    response = log_in(client, silent.email, DEFAULT_PASSWORD)
    assertContains(response, "Sans connexion depuis le 3 novembre 2026, merci de renouveler votre mot de passe")
    assert client.get(reverse("contracts:home")).status_code == 302
    # After the code flow, the same account signs in.
    request_code(client, silent.email)
    submit_code(client, last_code(silent.email))
    set_new_password(client)
    assert log_in(Client(), silent.email, GOOD_PASSWORD).status_code == 302


def test_an_account_used_since_the_cutoff_signs_in(client, cutoff):
    recent = UserFactory()
    User.objects.filter(pk=recent.pk).update(last_login=datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC))
    assert log_in(client, recent.email, DEFAULT_PASSWORD).status_code == 302


def test_the_cutoff_never_reveals_an_account_to_a_wrong_password(client, cutoff):
    silent = UserFactory(date_joined=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))
    response = log_in(client, silent.email, "Pas-le-bon-2031!")
    assertContains(response, GENERIC_ERROR)
    assertNotContains(response, "merci de renouveler votre mot de passe :")


# --- Throttling (SECURITY.md A10) -------------------------------------------------------------


def fail(client, email, times=1):
    for _ in range(times):
        log_in(client, email, "Pas-le-bon-2031!")


def test_after_five_failures_even_the_right_password_waits(client, user):
    fail(client, user.email, 5)
    response = log_in(client, user.email, DEFAULT_PASSWORD)
    assertContains(response, THROTTLED)
    assert client.get(reverse("contracts:home")).status_code == 302
    assert AuditEvent.objects.filter(event_type=EventType.LOGIN_THROTTLED, actor=user).exists()


def test_the_wait_is_over_after_five_minutes(user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        fail(Client(), user.email, 5)
        traveller.shift(datetime.timedelta(minutes=5, seconds=1))
        assert log_in(Client(), user.email, DEFAULT_PASSWORD).status_code == 302


def test_the_26th_failure_of_a_day_is_refused_until_the_next_day(user):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            fail(Client(), user.email, 5)
            traveller.shift(datetime.timedelta(minutes=6))
        response = log_in(Client(), user.email, DEFAULT_PASSWORD)  # the 26th try of the day
        assertContains(response, THROTTLED)
        traveller.shift(datetime.timedelta(hours=24))
        assert log_in(Client(), user.email, DEFAULT_PASSWORD).status_code == 302


def test_colleagues_behind_the_same_address_are_not_locked_out(client, user):
    """One hospital, one NAT address: a colleague's failures never block another account."""
    colleague = UserFactory()
    fail(client, user.email, 6)
    assertRedirects(log_in(Client(), colleague.email, DEFAULT_PASSWORD), reverse("contracts:home"))


def test_a_regional_network_behind_one_address_logs_in_within_a_minute(settings):
    """Deadline day behind a regional health network's gateway: 350 colleagues of many establishments log in
    from one address within one minute, 120 of them after a typo, and every one gets in — the per-address
    ceilings stop a flood, the per-account limits protect each account (SECURITY.md note 5)."""
    users = UserFactory.create_batch(350)
    gateway = {"REMOTE_ADDR": "192.0.2.10"}
    with time_machine.travel(timezone.now(), tick=False):
        for number, colleague in enumerate(users):
            client = Client(**gateway)
            if number < 120:
                assertContains(log_in(client, colleague.email, "Pas-le-bon-2031!"), "incorrect")
            assertRedirects(log_in(client, colleague.email, DEFAULT_PASSWORD), reverse("contracts:home"))
    assert not AuditEvent.objects.filter(event_type=EventType.LOGIN_THROTTLED).exists()


def test_renewal_by_code_still_works_while_login_is_throttled(client, user):
    fail(client, user.email, 6)
    request_code(client, user.email)
    assertRedirects(submit_code(client, last_code(user.email)), reverse("accounts:reset_code_verified"))


def test_the_admin_login_is_the_portals_protected_login(client, user):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    response = client.post("/admin/login/", {"username": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("contracts:home")).status_code == 302  # nothing authenticated


@pytest.fixture
def redis_cache(settings):
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379 (CI has one)")
    connection.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/15"}
    }
    yield connection
    connection.flushdb()


def test_failure_counters_live_in_the_shared_cache(redis_cache, user):
    """With Redis, every gunicorn worker reads the same counters: another connection sees them."""
    fail(Client(), user.email, 5)
    assert any(b"login_failed" in key for key in redis_cache.keys("*"))
    assertContains(log_in(Client(), user.email, DEFAULT_PASSWORD), THROTTLED)


@pytest.mark.parametrize(
    "password,message",
    [
        ("Ab1&" + "x" * 61, "Le mot de passe doit comporter au plus 64 caractères."),
        ("Ab1&xxxxxxx", "Le mot de passe doit comporter au moins 12 caractères."),
        ("A" * 1_000_000, "Le mot de passe doit comporter au plus 64 caractères."),
    ],
)
def test_renewal_refuses_bad_lengths_without_hashing_and_changes_nothing(client_for, newcomer, password, message):
    with mock.patch.object(MD5PasswordHasher, "encode", autospec=True) as encode:
        response = client_for(newcomer).post(
            reverse("accounts:renew_password"), {"password1": password, "password2": password}
        )
    assertContains(response, message)
    if len(password) > 4096:
        encode.assert_not_called()
    newcomer.refresh_from_db()
    assert newcomer.password_must_change
    assert newcomer.check_password(DEFAULT_PASSWORD)
