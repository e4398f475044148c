from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import cached_property

from contracts.models import Membership
from evaluation import values
from evaluation.display import comment_label
from evaluation.enums import AssignmentScope, ValueType
from evaluation.models import IndicatorValue
from evaluation.perms import WRITER_ROLES


class AnswerForm(forms.Form):
    """The question form: « Réalisé » by value type, « Non concerné » and its justification, the comment.

    `version` is the version of the answer the user saw (optimistic locking).
    """

    value = forms.CharField(label="Réalisé", required=False, strip=True, max_length=values.MAX_TEXT + 100)
    not_applicable = forms.BooleanField(label="Non concerné", required=False)
    not_applicable_reason = forms.CharField(
        label="Justification de « Non concerné »", required=False, max_length=2000, widget=forms.Textarea
    )
    # Labelled with the evaluated year once the form knows it (« Commentaire évalué 2025 », MANUAL.md §3).
    comment = forms.CharField(label="Commentaire", required=False, max_length=values.MAX_TEXT, widget=forms.Textarea)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, indicator, year: int | None = None, **kwargs):
        self.indicator = indicator
        super().__init__(*args, **kwargs)
        if year is not None:
            self.fields["comment"].label = comment_label(year)
            self.fields["comment"].help_text = f"Le commentaire de votre établissement sur l'année évaluée, {year}."

    @classmethod
    def for_value(cls, value: IndicatorValue, data=None):
        initial = {
            "value": values.to_input(value.indicator.value_type, value.value),
            "not_applicable": value.not_applicable,
            "not_applicable_reason": value.not_applicable_reason,
            "comment": value.comment,
            "version": value.version,
        }
        return cls(data=data, initial=initial, indicator=value.indicator, year=value.self_evaluation.campaign.year)

    def clean_value(self):
        return values.to_canonical(
            self.indicator.value_type, self.cleaned_data["value"], choices=self.indicator.choices
        )

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("not_applicable"):
            if not (cleaned_data.get("not_applicable_reason") or "").strip():
                self.add_error(
                    "not_applicable_reason", "Justifiez « Non concerné » : pourquoi la question ne s'applique pas."
                )
            # « Non concerné » replaces the answer.
            cleaned_data["value"] = ""
        else:
            cleaned_data["not_applicable_reason"] = ""
            if self.indicator.required and "value" in cleaned_data and cleaned_data["value"] == "":
                self.add_error("value", "Saisissez le réalisé, ou cochez « Non concerné » en justifiant pourquoi.")
        return cleaned_data

    def answer(self) -> dict:
        """The validated answer, in the shape `evaluation.services.save_answer` takes."""
        data = self.cleaned_data
        return {
            "value": data["value"],
            "not_applicable": data["not_applicable"],
            "not_applicable_reason": (data["not_applicable_reason"] or "").strip(),
            "comment": (data["comment"] or "").strip(),
        }

    @property
    def is_yes_no(self):
        return self.indicator.value_type == ValueType.OUI_NON


class AssignmentForm(forms.Form):
    """« Confier » a question, or its whole objective, to a colleague who writes (`evaluation.perms.WRITER_ROLES`).
    The view offers it to those who may confide (`Abilities.assign`); the service checks it again."""

    assignee = forms.ModelChoiceField(label="Confier à", queryset=None, required=False, empty_label="Personne")
    scope = forms.ChoiceField(
        label="Quoi", choices=AssignmentScope.choices, initial=AssignmentScope.QUESTION, widget=forms.RadioSelect
    )

    def __init__(self, *args, ej, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (
            Membership.objects.filter(ej=ej, role__in=WRITER_ROLES)
            .select_related("user")
            .order_by("user__last_name", "user__first_name")
        )
        self.fields["assignee"].label_from_instance = lambda membership: (
            f"{membership.user} ({membership.get_role_display()})"
        )

    @cached_property
    def assignee_options(self) -> list[tuple[str, str, bool]]:
        """« Confier à »'s options (value, label, selected), read once: the field's choices would be counted, then
        read, by the template's loop."""
        field = self.fields["assignee"]
        chosen = str(self["assignee"].value() or "")
        options = [("", field.empty_label)]
        options += [(str(membership.pk), field.label_from_instance(membership)) for membership in field.queryset]
        return [(value, label, value == chosen) for value, label in options]

    def clean_assignee(self):
        membership = self.cleaned_data["assignee"]
        if membership is not None and not membership.user.is_active:
            raise ValidationError("Ce compte est désactivé.")
        return membership.user if membership else None
