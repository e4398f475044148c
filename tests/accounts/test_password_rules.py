"""« Règles du mot de passe »: 12 to 64 characters, four classes, no common or context words."""

import pytest
from django.contrib.auth.password_validation import password_validators_help_texts, validate_password
from django.core.exceptions import ValidationError

from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory


def messages_for(password, user=None):
    try:
        validate_password(password, user)
    except ValidationError as e:
        return e.messages
    return []


@pytest.mark.parametrize(
    "password",
    [
        "Bl3u-Ciel-Vaste",  # 15 characters, four classes
        "Ab1&" + "x" * 8,  # exactly 12
        "Ab1&" + "x" * 60,  # exactly 64
        "Élan Vif 2031 ✓",  # accents, spaces and a symbol outside ASCII
    ],
)
def test_passwords_meeting_every_rule_are_accepted(password):
    assert messages_for(password) == []


def test_eleven_characters_are_refused():
    assert messages_for("Ab1&xxxxxxx") == ["Le mot de passe doit comporter au moins 12 caractères."]


def test_sixty_five_characters_are_refused():
    assert messages_for("Ab1&" + "x" * 61) == ["Le mot de passe doit comporter au plus 64 caractères."]


@pytest.mark.parametrize(
    "password,missing",
    [
        ("SANS-MINUSCULE-42", "Le mot de passe doit contenir une lettre minuscule."),
        ("sans-majuscule-42", "Le mot de passe doit contenir une lettre majuscule."),
        ("Sans-Chiffre-Ici", "Le mot de passe doit contenir un chiffre."),
        ("SansSigne4242Ok", "Le mot de passe doit contenir un caractère spécial (& - _ % …)."),
    ],
)
def test_each_missing_character_class_has_its_own_message(password, missing):
    assert messages_for(password) == [missing]


def test_every_unmet_rule_is_reported_at_once():
    assert messages_for("vbq") == [
        "Le mot de passe doit comporter au moins 12 caractères.",
        "Le mot de passe doit contenir une lettre majuscule.",
        "Le mot de passe doit contenir un chiffre.",
        "Le mot de passe doit contenir un caractère spécial (& - _ % …).",
    ]


@pytest.mark.parametrize("password", ["Azerty123456!", "Motdepasse2024!", "P@ssw0rd-2024", "Soleil_2026_!"])
def test_common_passwords_are_refused_even_decorated(password):
    assert "Ce mot de passe est trop courant : il serait deviné parmi les premiers." in messages_for(password)


def test_service_name_is_refused():
    assert any("nom du service" in m for m in messages_for("Ecars-Paris-2025!"))


def test_the_users_ej_name_and_address_are_refused():
    user = UserFactory(email="jean.dupont@chu-grenoble.fr")
    MembershipFactory(user=user, ej=EntiteJuridiqueFactory(name="CHU DE GRENOBLE ALPES"))
    assert any("établissement" in m for m in messages_for("Grenoble-Alpes-2025!", user))
    assert any("établissement" in m for m in messages_for("Jean.Dupont-2025!", user))
    assert messages_for("Grenoble-Alpes-2025!", UserFactory()) == []


def test_rules_are_shown_beside_the_fields():
    texts = password_validators_help_texts()
    assert "Le mot de passe doit comporter entre 12 et 64 caractères." in texts
    assert any("une lettre minuscule, une lettre majuscule, un chiffre, un caractère spécial" in t for t in texts)


def test_production_hashes_with_argon2id_at_owasp_parameters(settings):
    settings.PASSWORD_HASHERS = ["accounts.hashers.Argon2idHasher"]
    user = UserFactory(password="Bl3u-Ciel-Vaste")
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password("Bl3u-Ciel-Vaste")
    assert not user.check_password("Bl3u-Ciel-Vaste!")


def test_a_hash_of_django_s_default_parameters_still_logs_in_and_is_rewritten(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = UserFactory(password="Bl3u-Ciel-Vaste")
    assert "$m=102400,t=2,p=8$" in user.password
    settings.PASSWORD_HASHERS = ["accounts.hashers.Argon2idHasher", "django.contrib.auth.hashers.Argon2PasswordHasher"]
    assert user.check_password("Bl3u-Ciel-Vaste")
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
