"""Password rules of the manual (« Règles du mot de passe ») and of SECURITY.md A1–A2.

Each validator reports every rule it finds unmet, with one French message per rule, so that the
user sees at once everything to fix. The composition rules are a documented deviation from
ASVS V6.2.5, justified by CNIL deliberation 2022-100 (SECURITY.md §0.1).
"""

import re
import unicodedata
from functools import cache
from pathlib import Path

from django.contrib.auth.password_validation import CommonPasswordValidator as DjangoCommonPasswordValidator
from django.core.exceptions import ValidationError

from accounts import hooks


SPECIAL_CHARACTERS_HINT = "& - _ % …"
# Words the service's own users would reach for first (SECURITY.md A2).
SERVICE_WORDS = ("ecars", "e-cars", "caqes", "sante", "hopital", "clinique")
FRENCH_COMMON_PASSWORDS = Path(__file__).parent / "data" / "mots_de_passe_courants.txt"


def normalize(text: str) -> str:
    """Lowercase, without accents or anything but letters and digits: « Hôpital-Nord » → « hopitalnord »."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if char.isalnum() and not unicodedata.combining(char))


class LengthValidator:
    def __init__(self, min_length=12, max_length=64):
        self.min_length = min_length
        self.max_length = max_length

    def validate(self, password, user=None):
        if len(password) < self.min_length:
            raise ValidationError(
                f"Le mot de passe doit comporter au moins {self.min_length} caractères.", code="password_too_short"
            )
        if len(password) > self.max_length:
            raise ValidationError(
                f"Le mot de passe doit comporter au plus {self.max_length} caractères.", code="password_too_long"
            )

    def get_help_text(self):
        return f"Le mot de passe doit comporter entre {self.min_length} et {self.max_length} caractères."


class CharacterClassesValidator:
    RULES = (
        (str.islower, "une lettre minuscule", "password_no_lower"),
        (str.isupper, "une lettre majuscule", "password_no_upper"),
        (str.isdigit, "un chiffre", "password_no_digit"),
        (lambda char: not char.isalnum(), f"un caractère spécial ({SPECIAL_CHARACTERS_HINT})", "password_no_symbol"),
    )

    def validate(self, password, user=None):
        errors = [
            ValidationError(f"Le mot de passe doit contenir {label}.", code=code)
            for test, label, code in self.RULES
            if not any(test(char) for char in password)
        ]
        if errors:
            raise ValidationError(errors)

    def get_help_text(self):
        return (
            "Le mot de passe doit présenter toutes les caractéristiques suivantes : une lettre minuscule, "
            f"une lettre majuscule, un chiffre, un caractère spécial ({SPECIAL_CHARACTERS_HINT})."
        )


def _strip_decoration(password: str) -> str:
    """The word inside digits and signs: « !!p@ssw0rd-2024 » → « p@ssw0rd »."""
    return re.sub(r"^[\W\d_]+|[\W\d_]+$", "", password)


@cache
def _french_common_words() -> frozenset[str]:
    lines = FRENCH_COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(normalize(line) for line in lines if line.strip() and not line.startswith("#"))


@cache
def _django_common_passwords() -> frozenset[str]:
    return frozenset(DjangoCommonPasswordValidator().passwords)


class CommonPasswordValidator:
    """Refuses the 20,000 most common passwords, and French common words decorated with digits and signs.

    « Azerty123456! » and « Motdepasse2024! » meet the composition rules but are among the first
    guesses of any attacker: what remains once digits and signs are removed is checked too.
    """

    # « P@ssw0rd » is « password » to anyone guessing.
    LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})

    def validate(self, password, user=None):
        cores = {
            "".join(char for char in normalize(candidate) if char.isalpha())
            for candidate in (password, _strip_decoration(password.lower()).translate(self.LEET))
        }
        if (
            password.lower().strip() in _django_common_passwords()
            or normalize(password) in _french_common_words()
            or cores & _french_common_words()
        ):
            raise ValidationError(
                "Ce mot de passe est trop courant : il serait deviné parmi les premiers.", code="password_too_common"
            )

    def get_help_text(self):
        return "Le mot de passe ne doit pas être un mot de passe courant (azerty, motdepasse…)."


class ContextWordsValidator:
    """Refuses passwords built on the service's name, the user's EJ names, or their address's local part."""

    MIN_WORD_LENGTH = 4

    def context_words(self, user) -> set[str]:
        words = set(SERVICE_WORDS)
        if user is not None:
            email = getattr(user, "email", "") or ""
            words.update(re.split(r"[._+-]", email.split("@")[0]))
            words.add(email.split("@")[0])
            words.update((getattr(user, "first_name", "") or "", getattr(user, "last_name", "") or ""))
            if getattr(user, "pk", None):
                # The names and FINESS of the user's EJ (accounts/hooks.py, answered by contracts).
                for extra in hooks.password_context_words.collect(user):
                    words.update(extra)
        return {normalize(word) for word in words if len(normalize(word)) >= self.MIN_WORD_LENGTH}

    def validate(self, password, user=None):
        normalized = normalize(password)
        if any(word in normalized for word in self.context_words(user)):
            raise ValidationError(
                "Le mot de passe ne doit contenir ni le nom du service, ni le nom de votre établissement, "
                "ni votre nom, ni votre adresse de messagerie.",
                code="password_context_word",
            )

    def get_help_text(self):
        return (
            "Le mot de passe ne doit contenir ni le nom du service, ni le nom de votre établissement, "
            "ni votre nom, ni votre adresse de messagerie."
        )
