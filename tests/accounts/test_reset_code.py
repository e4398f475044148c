"""« Renouveler le mot de passe »: the manual's three screens, by a 6-digit code sent by e-mail."""

import datetime
import email
import email.policy
import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from audit.enums import EventType
from audit.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import GOOD_PASSWORD, last_code, log_in, request_code, set_new_password, submit_code
from tests.conftest import Client


@pytest.fixture
def user():
    return UserFactory(email="signataire@chu-exemple.fr")


def test_screen_one_uses_the_manuals_words(client):
    response = client.get(reverse("account_reset_password"))
    for words in ("Renouveler le mot de passe", "Adresse de messagerie", "Envoyer le code de vérification", "Annuler"):
        assertContains(response, words)
    # The manual's screen has « Continuer » too: it sends the code as well.
    assertContains(response, '<button class="fr-btn" type="submit">Continuer</button>', html=True)


@pytest.mark.parametrize("button", ["Envoyer le code de vérification", "Continuer"])
def test_both_buttons_of_screen_one_send_the_code(client, user, button):
    """Neither button has a name: the browser sends the same form whichever is pressed."""
    page = client.get(reverse("account_reset_password")).content.decode()
    assert re.search(rf'<button class="fr-btn[^"]*" type="submit">{button}</button>', page)
    response = request_code(client, user.email)
    assertRedirects(response, reverse("account_confirm_password_reset_code"))
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_the_code_is_exactly_six_digits_and_leads_to_screen_two(client, user):
    response = request_code(client, user.email)
    assertRedirects(response, reverse("account_confirm_password_reset_code"))
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "[e-CARS] Votre code de vérification"
    assert re.fullmatch(r"\d{6}", last_code(user.email))
    assert message.alternatives[0].mimetype == "text/html"
    response = client.get(reverse("account_confirm_password_reset_code"))
    for words in ("Vérifier le code", "Envoyer un nouveau code", "Modifier l'adresse e-mail", "Annuler"):
        assertContains(response, words)
    # The address, in an editable field, as on the manual's screen.
    assertContains(
        response,
        f'<input class="fr-input" type="email" name="email" id="id_email" value="{user.email}" autocomplete="email" '
        'required aria-required="true">',
        html=True,
    )


def test_the_whole_flow_renews_the_password(client, user):
    client_elsewhere = Client()
    client_elsewhere.force_login(user)
    request_code(client, user.email)

    response = submit_code(client, last_code(user.email))
    assertRedirects(response, reverse("accounts:reset_code_verified"))
    response = client.get(reverse("accounts:reset_code_verified"))
    assertContains(response, "Nous avons vérifié l'adresse e-mail")
    assertContains(response, "Continuer")
    response = client.get(reverse("account_complete_password_reset"))
    for words in ("Nouveau mot de passe", "Confirmer le nouveau mot de passe", "Continuer", "Règles du mot de passe"):
        assertContains(response, words)

    response = set_new_password(client)
    assertRedirects(response, reverse("account_password_reset_completed"))
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)
    assert user.password_changed_at is not None
    # The reset does not sign in (SECURITY.md A8), and signs every other session out.
    assert client.get(reverse("contracts:home")).status_code == 302
    assert client_elsewhere.get(reverse("contracts:home")).status_code == 302
    # The old password is gone, the new one works.
    assertContains(log_in(Client(), user.email, DEFAULT_PASSWORD), "Adresse de messagerie ou mot de passe incorrect")
    assert log_in(Client(), user.email, GOOD_PASSWORD).status_code == 302
    assert mail.outbox[-1].subject == "[e-CARS] Votre mot de passe a été renouvelé"
    events = set(AuditEvent.objects.filter(actor=user).values_list("event_type", flat=True))
    assert {EventType.RESET_CODE_SENT, EventType.PASSWORD_RESET} <= events


def test_a_weak_new_password_is_refused_with_the_rules_and_nothing_changes(client, user):
    request_code(client, user.email)
    submit_code(client, last_code(user.email))
    response = set_new_password(client, "court")
    assertContains(response, "Le mot de passe doit comporter au moins 12 caractères.")
    assertContains(response, "Le mot de passe doit contenir une lettre majuscule.")
    response = set_new_password(client, GOOD_PASSWORD, "Autre-Mot-2031!")
    assertContains(response, "Vous devez saisir deux fois le même mot de passe.")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_an_unknown_address_gets_the_same_screens_and_no_email(client, user):
    known = request_code(Client(), user.email)
    unknown = request_code(client, "personne@inconnu.fr")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [m.to for m in mail.outbox] == [[user.email]]
    page = client.get(reverse("account_confirm_password_reset_code"))
    assertContains(page, "Vérifier le code")
    response = submit_code(client, "123456")
    assertContains(response, "Code de vérification incorrect.")


def test_a_wrong_code_is_refused_with_a_message(client, user):
    request_code(client, user.email)
    wrong = "000000" if last_code(user.email) != "000000" else "111111"
    response = submit_code(client, wrong)
    assertContains(response, "Code de vérification incorrect.")
    assert AuditEvent.objects.filter(event_type=EventType.RESET_CODE_REJECTED, actor=user).exists()


def test_the_code_is_voided_after_three_wrong_tries(client, user):
    request_code(client, user.email)
    code = last_code(user.email)
    wrong = "000000" if code != "000000" else "111111"
    submit_code(client, wrong)
    submit_code(client, wrong)
    response = submit_code(client, wrong)  # the third wrong try voids the code
    assertRedirects(response, reverse("account_login"))
    response = submit_code(client, code)  # a fourth try, even the right code, leads nowhere
    assertRedirects(response, reverse("account_login"))
    assert client.get(reverse("account_complete_password_reset")).status_code == 302
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_a_code_cannot_be_used_twice(client, user):
    request_code(client, user.email)
    code = last_code(user.email)
    submit_code(client, code)
    set_new_password(client)
    response = submit_code(client, code)
    assertRedirects(response, reverse("account_login"))
    assert set_new_password(client, "Encore-Autre-2032!").status_code == 302
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)


def test_a_code_typed_in_another_browser_session_is_refused(client, user):
    request_code(client, user.email)
    other_browser = Client()
    response = submit_code(other_browser, last_code(user.email))
    assertRedirects(response, reverse("account_login"))
    assert set_new_password(other_browser).status_code == 302
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_a_code_expires_after_ten_minutes(client, user):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), tick=False) as traveller:
        request_code(client, user.email)
        code = last_code(user.email)
        traveller.shift(datetime.timedelta(minutes=10, seconds=1))
        response = submit_code(client, code)
    assertRedirects(response, reverse("account_login"))
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_send_a_new_code_voids_the_previous_one(client, user):
    request_code(client, user.email)
    first = last_code(user.email)
    response = client.post(reverse("account_confirm_password_reset_code"), {"resend": "1"})
    assertRedirects(response, reverse("account_confirm_password_reset_code"))
    second = last_code(user.email)
    assert len(mail.outbox) == 2
    if first != second:
        assertContains(submit_code(client, first), "Code de vérification incorrect.")
    assertRedirects(submit_code(client, second), reverse("accounts:reset_code_verified"))


def test_modify_address_and_cancel_lead_back(client, user):
    request_code(client, user.email)
    page = client.get(reverse("account_confirm_password_reset_code"))
    # « Modifier l'adresse e-mail » sends the address to screen 1's view; « Annuler » leads to the login.
    assertContains(page, f'<form method="post" action="{reverse("account_reset_password")}"')
    assertContains(page, f'href="{reverse("account_login")}"')


def change_address(client, email):
    """« Modifier l'adresse e-mail » on screen 2: the address form posts to screen 1's view."""
    return client.post(reverse("account_reset_password"), {"email": email})


def test_modify_address_sends_a_code_to_the_new_address_and_voids_the_first(client, user):
    other = UserFactory(email="pharmacie@chu-exemple.fr")
    request_code(client, "signataire@chu-exempel.fr")  # mistyped: no account, no e-mail
    assert mail.outbox == []

    response = change_address(client, user.email)

    assertRedirects(response, reverse("account_confirm_password_reset_code"))
    page = client.get(reverse("account_confirm_password_reset_code"))
    assertContains(page, f'value="{user.email}"')
    [message] = mail.outbox
    assert message.to == [user.email]
    change_address(client, other.email)
    first = last_code(user.email)
    if first != last_code(other.email):
        assertContains(submit_code(client, first), "Code de vérification incorrect.")
    assertRedirects(submit_code(client, last_code(other.email)), reverse("accounts:reset_code_verified"))
    set_new_password(client)
    other.refresh_from_db()
    user.refresh_from_db()
    assert other.check_password(GOOD_PASSWORD)
    assert user.check_password(DEFAULT_PASSWORD)


def test_modify_address_after_verification_starts_again_with_the_new_address(client, user):
    other = UserFactory(email="pharmacie@chu-exemple.fr")
    request_code(client, user.email)
    submit_code(client, last_code(user.email))
    page = client.get(reverse("accounts:reset_code_verified"))
    assertContains(page, "Nous avons vérifié l'adresse e-mail. Vous pouvez continuer maintenant.")
    assertContains(page, f'value="{user.email}"')
    assertContains(page, f'<form method="post" action="{reverse("account_reset_password")}"')
    assertContains(page, "Modifier l'adresse e-mail")

    assertRedirects(change_address(client, other.email), reverse("account_confirm_password_reset_code"))

    # The first address's verification is gone: a new code is needed for the new one.
    assertRedirects(
        client.get(reverse("account_complete_password_reset")),
        reverse("account_confirm_password_reset_code"),
        fetch_redirect_response=False,
    )
    assert mail.outbox[-1].to == [other.email]


def test_modify_address_counts_in_the_same_rate_limit(client, user):
    """SECURITY.md A9: changing the address to the same one asks for a code like screen 1, in its limits."""
    for _ in range(3):
        assert change_address(Client(), user.email).status_code == 302
    response = change_address(client, user.email)
    assert response.status_code == 429
    assert len(mail.outbox) == 3


def test_a_malformed_new_address_is_refused_on_screen_one(client, user):
    request_code(client, user.email)
    response = change_address(client, "pas-une-adresse")
    assert response.status_code == 200
    assertContains(response, 'value="pas-une-adresse"')
    assertContains(response, "fr-input-group--error")
    assert len(mail.outbox) == 1


def test_requesting_codes_is_limited_per_address(client, user):
    """SECURITY.md A9: at most 3 codes an hour and 10 a day for one address, whatever the browser."""
    for _ in range(3):
        assert request_code(Client(), user.email).status_code == 302
    response = request_code(client, user.email)
    assert response.status_code == 429
    assertContains(response, "Trop de tentatives", status_code=429)
    assert len(mail.outbox) == 3
    assert AuditEvent.objects.filter(event_type=EventType.LOGIN_THROTTLED).exists()


def test_the_guessing_budget_on_one_account_is_at_most_thirty_codes_a_day():
    """SECURITY.md A9: tries per code × codes per address per day ≤ 30."""
    daily = [r for r in settings.ACCOUNT_RATE_LIMITS["reset_password"].split(",") if r.endswith("/d/key")]
    assert daily, "a daily limit per address is required"
    codes_per_day = int(daily[0].split("/")[0])
    assert settings.ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS * codes_per_day <= 30
    assert settings.ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT <= 600


@pytest.mark.django_db(transaction=True)
def test_the_code_flow_end_to_end_through_a_real_smtp_server(settings, smtp_server, user):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.hostname
    settings.EMAIL_PORT = smtp_server.port
    client = Client()

    request_code(client, user.email)
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [user.email]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "[e-CARS] Votre code de vérification"
    text = message.get_body(("plain",)).get_content()
    code = re.search(r"^(\d{6})\r?$", text, re.MULTILINE).group(1)
    assert code in message.get_body(("html",)).get_content()

    assertRedirects(submit_code(client, code), reverse("accounts:reset_code_verified"))
    assertRedirects(set_new_password(client), reverse("account_password_reset_completed"))
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)
    assert len(smtp_server.envelopes) == 2  # the code, then the « mot de passe renouvelé » notice
