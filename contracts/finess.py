"""FINESS numbers (Fichier national des établissements sanitaires et sociaux).

A FINESS number has 9 characters matching the official XSD type `typeNumeroFiness`:
`[0-9][0-9A-Z][0-9]{7}` (the second character is a letter for Corsica: 2A, 2B). That pattern is
enforced by forms and by a database constraint. The last digit is, in every real number checked,
a Luhn key over the 9 digits; no official text states that rule, so a failed key is only a
warning, and numbers with a letter are never checked (DOMAIN.md §8).
"""

import re

from django.core.exceptions import ValidationError
from django.db.models import Q


FINESS_PATTERN = r"^[0-9][0-9A-Z][0-9]{7}$"
_FINESS_RE = re.compile(FINESS_PATTERN)


def validate_finess(value: str) -> None:
    if not isinstance(value, str) or not _FINESS_RE.match(value):
        raise ValidationError(
            "Le numéro FINESS doit comporter 9 caractères : des chiffres, sauf le deuxième qui peut "
            "être une lettre majuscule (2A, 2B pour la Corse).",
            code="invalid_finess",
        )


def finess_luhn_ok(value: str) -> bool | None:
    """Whether the Luhn key of an all-digit FINESS number is right; None when it cannot be checked."""
    if not _FINESS_RE.match(value or "") or not value.isdigit():
        return None
    total = 0
    for position, char in enumerate(reversed(value)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def department_of(finess: str) -> str:
    """The department of an EJ, read from its FINESS juridique: its first two characters (2A, 2B for Corsica);
    overseas, three: « 97 » and the fourth character when the number starts with « 970 » (9701… Guadeloupe → 971,
    9704… La Réunion → 974), the first three otherwise (976… → 976, 98x…)."""
    if finess.startswith("970"):
        return "97" + finess[3:4]
    if finess[:2] in ("97", "98"):
        return finess[:3]
    return finess[:2]


def department_q(code: str, finess_path: str) -> Q:
    """The rows whose FINESS (at the lookup `finess_path`) is of department `code`, as `department_of` reads it."""
    q = Q(**{f"{finess_path}__startswith": code})
    if len(code) == 3 and code.startswith("97"):
        q |= Q(**{f"{finess_path}__startswith": f"970{code[2]}"})
    return q
