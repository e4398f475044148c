"""How a question and its answer read and are reached, wherever they appear: the tree, the question page, its
history, the workbook's preview, the e-mails.

- `question_label`: « code - libellé », with « — FINESS - nom » for a question answered per ET;
- `question_url`: the question's page, its form under the tree;
- `answer_shown`: « Réalisé » as users read it (« Non concerné » included);
- `value_type_shown`: « Type de réponse », the unit said once (« taux (%) », « nombre (patients) »);
- `comment_label`: the establishment's comment is « Commentaire évalué <année évaluée> » (MANUAL.md §3), and
  the previous campaign's one « Commentaire évalué N-1 » (`PREVIOUS_COMMENT_LABEL`);
- `FIELD_LABELS`, `field_label` and `field_change`: an answer's fields and one change of one of them, as users
  read them.
"""

from dataclasses import dataclass
from urllib.parse import quote

from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from ecars.lib.display import show
from evaluation import values
from evaluation.enums import ValueType


# The manual's words: the establishment comments on the year evaluated (« Commentaire évalué 2022 »), and
# reads under it what it wrote the year before.
COMMENT_LABEL = "Commentaire évalué {year}"
PREVIOUS_COMMENT_LABEL = "Commentaire évalué N-1"

# The fields of an answer that users write (evaluation.services.ANSWER_FIELDS), with their labels ({year}: the
# campaign's evaluated year).
FIELD_LABELS = {
    "value": "Réalisé",
    "not_applicable": "Non concerné",
    "not_applicable_reason": "Justification",
    "comment": COMMENT_LABEL,
}

# The unit a value type's label already says (« taux (%) »): an indicator's own unit replaces it, never
# repeats it.
_TYPE_UNITS = {ValueType.TAUX: "%"}


def comment_label(year: int) -> str:
    """« Commentaire évalué 2025 »: the establishment's comment on the campaign's evaluated year."""
    return COMMENT_LABEL.format(year=year)


def field_label(name: str, year: int) -> str:
    """The label of an answer's field in a self-evaluation of the evaluated `year`."""
    return FIELD_LABELS.get(name, name).format(year=year)


def value_type_shown(indicator) -> str:
    """« Type de réponse » of an indicator, its unit said once: « taux (%) », « nombre (patients) », « oui/non »."""
    value_type = ValueType(indicator.value_type)
    label = value_type.label
    unit = (indicator.unit or "").strip()
    own_unit = _TYPE_UNITS.get(value_type)
    if own_unit:
        label = label.removesuffix(f" ({own_unit})")
        unit = unit or own_unit
    return f"{label} ({unit})" if unit else label


def question_label(indicator, etablissement=None) -> str:
    """« 2.1.1.a - Mise en place… », and « — 380780080 - CHU… » when the question is answered for an ET."""
    suffix = f" — {etablissement.finess} - {etablissement.name}" if etablissement else ""
    return f"{indicator.code} - {indicator.label}{suffix}"


def questions_prefix(self_evaluation) -> str:
    """The URL every question's page of `self_evaluation` starts with, up to the question's code."""
    return reverse("evaluation:indicators", args=[self_evaluation.public_id])


def question_url(value, anchor: str = "question", *, indicator=None, prefix: str = "") -> str:
    """The page of the question `value` answers (its ET's, for an ET-level question), at `anchor`.

    A tree passes the `indicator` it has loaded and the `prefix` it made once (`questions_prefix`): one
    reverse() per tree rather than per question. The code is quoted as reverse() would quote it.
    """
    indicator = indicator or value.indicator
    prefix = prefix or questions_prefix(value.self_evaluation)
    url = prefix + quote(indicator.code, safe=RFC3986_SUBDELIMS + "/~:@") + "/"
    if value.etablissement_id:
        url += f"?et={value.etablissement.finess}"
    return f"{url}#{anchor}"


def answer_shown(value_type: str, raw: str, *, not_applicable: bool) -> str:
    """« Réalisé » as the pages show it: « Non concerné », or the stored answer ("" when there is none)."""
    return "Non concerné" if not_applicable else values.display(value_type, raw)


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


def show_field(name: str, raw, value_type: str) -> str:
    """One field of an answer as a history or a preview shows it (« — » when empty)."""
    if name == "value":
        return show(values.display(value_type, raw))
    if name == "not_applicable":
        return show(bool(raw))
    return show(raw)


def field_change(name: str, old, new, value_type: str, *, year: int) -> FieldChange:
    """The change of one field of an answer, from `old` to `new` (stored values), as users read it, in a
    self-evaluation of the evaluated `year`."""
    return FieldChange(field_label(name, year), show_field(name, old, value_type), show_field(name, new, value_type))
