"""Answers by value type: reading what users type, storing it canonically, showing it, checking targets.

Canonical storage (IndicatorValue.value and .target are text):
- oui/non: « 1 » or « 0 », shown « 1 - OUI » / « 0 - NON »;
- taux (%): a decimal between 0 and 100, at most 2 decimals, stored with a dot (« 12.5 »);
- nombre: a decimal between 0 and 1 000 000 000 000, at most 2 decimals;
- texte: at most 5 000 characters;
- date: ISO (« 2026-03-02 »), typed as 02/03/2026 or 2026-03-02, between 1990 and 2100;
- liste: one of the indicator's choices, as written.

Target rule (« objectif atteint » / « non atteint »), the same in the form, the tree and the help page:
- oui/non and liste: the answer equals the target;
- taux and nombre: the answer is at least the target (« 80 » or « ≥ 80 »), or at most it when the
  target says so (« ≤ 3,3 »), bounds included;
- date: the answer is on or before the target date;
- texte, or « non concerné », or no target, or no answer: nothing to check.
"""

import datetime
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import formats

from evaluation.enums import ValueType


MAX_TEXT = 5000
MAX_NUMBER = Decimal("1000000000000")
YES, NO = "1", "0"
MET, NOT_MET = "objectif atteint", "objectif non atteint"


def parse_decimal(raw: str, *, minimum: Decimal, maximum: Decimal, what: str) -> Decimal:
    text = raw.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    text = text.removesuffix("%")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise ValidationError(f"Saisissez {what} en chiffres, par exemple 12,5 (virgule ou point pour les décimales).")
    try:
        number = Decimal(text)
    except InvalidOperation as e:  # pragma: no cover - excluded by the pattern above
        raise ValidationError(f"Saisissez {what} en chiffres.") from e
    if number < minimum or number > maximum:
        raise ValidationError(f"Saisissez {what} entre {_show_decimal(minimum)} et {_show_decimal(maximum)}.")
    if number.as_tuple().exponent < -2:
        raise ValidationError("Deux décimales au plus.")
    return number


def _canonical_decimal(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text if "." in text else str(int(number))


def _show_decimal(number) -> str:
    return formats.number_format(Decimal(number).normalize(), use_l10n=True, force_grouping=False)


def parse_date(raw: str) -> datetime.date:
    text = raw.strip()
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            day = datetime.datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar date
            break
        except ValueError:
            continue
    else:
        raise ValidationError("Saisissez une date au format JJ/MM/AAAA, par exemple 02/03/2026.")
    if not datetime.date(1990, 1, 1) <= day <= datetime.date(2100, 12, 31):
        raise ValidationError("Saisissez une date entre 1990 et 2100.")
    return day


def to_canonical(value_type: str, raw: str, *, choices=()) -> str:
    """What the user typed, validated, as stored; "" when nothing was typed."""
    raw = (raw or "").strip()
    if raw == "":
        return ""
    if value_type == ValueType.OUI_NON:
        if raw in (YES, NO):
            return raw
        raise ValidationError("Choisissez « 1 - OUI » ou « 0 - NON ».")
    if value_type == ValueType.TAUX:
        return _canonical_decimal(parse_decimal(raw, minimum=Decimal(0), maximum=Decimal(100), what="un taux"))
    if value_type == ValueType.NOMBRE:
        return _canonical_decimal(parse_decimal(raw, minimum=Decimal(0), maximum=MAX_NUMBER, what="un nombre"))
    if value_type == ValueType.DATE:
        return parse_date(raw).isoformat()
    if value_type == ValueType.LISTE:
        if raw in choices:
            return raw
        raise ValidationError("Choisissez une des valeurs proposées.")
    if len(raw) > MAX_TEXT:
        raise ValidationError(f"{MAX_TEXT} caractères au plus ({len(raw)} saisis).")
    return raw


def display(value_type: str, canonical: str) -> str:
    """A stored answer as the pages show it."""
    if canonical == "":
        return ""
    if value_type == ValueType.OUI_NON:
        return {YES: "1 - OUI", NO: "0 - NON"}.get(canonical, canonical)
    if value_type in (ValueType.TAUX, ValueType.NOMBRE):
        suffix = " %" if value_type == ValueType.TAUX else ""
        try:
            return _show_decimal(Decimal(canonical)) + suffix
        except InvalidOperation:
            return canonical
    if value_type == ValueType.DATE:
        try:
            return datetime.date.fromisoformat(canonical).strftime("%d/%m/%Y")
        except ValueError:
            return canonical
    return canonical


def to_input(value_type: str, canonical: str) -> str:
    """A stored answer as an input field shows it for editing (French decimal comma, JJ/MM/AAAA)."""
    if value_type in (ValueType.TAUX, ValueType.NOMBRE, ValueType.DATE):
        return display(value_type, canonical).removesuffix(" %").replace("\u202f", "").replace("\xa0", "")
    return canonical


_TARGET = re.compile(r"^\s*(?P<op>≥|>=|≤|<=)?\s*(?P<number>-?\d+(?:[.,]\d+)?)\s*%?\s*$")


def target_met(value_type: str, value: str, target: str, *, not_applicable: bool = False) -> bool | None:
    """Whether the answer meets the target, by the rule of this module's docstring; None when there is
    nothing to check."""
    if not_applicable or not value or not target:
        return None
    if value_type in (ValueType.OUI_NON, ValueType.LISTE):
        return value == target
    if value_type in (ValueType.TAUX, ValueType.NOMBRE):
        match = _TARGET.match(target)
        if not match:
            return None
        goal = Decimal(match["number"].replace(",", "."))
        answer = Decimal(value)
        return answer <= goal if match["op"] in ("≤", "<=") else answer >= goal
    if value_type == ValueType.DATE:
        try:
            return datetime.date.fromisoformat(value) <= datetime.date.fromisoformat(target)
        except ValueError:
            return None
    return None


def target_label(met: bool | None) -> str:
    return "" if met is None else (MET if met else NOT_MET)
