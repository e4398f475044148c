import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst

from accounts.models import User
from contracts.enums import MembershipRole
from contracts.models import IdentificationData


class InviteMemberForm(forms.Form):
    """« Inviter un collègue »: an address and a role."""

    email = forms.EmailField(label="Adresse de messagerie", max_length=254)
    role = forms.ChoiceField(label="Rôle", choices=MembershipRole.choices, initial=MembershipRole.LECTEUR)

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])


class MemberRoleForm(forms.Form):
    """A member (by the public identifier of their account) and their new role."""

    member = forms.UUIDField()
    role = forms.ChoiceField(choices=MembershipRole.choices)


class RemoveMemberForm(forms.Form):
    member = forms.UUIDField()


# Pré-campagne: an ET's identification data (DESIGN.md §3), validated by a signataire of its EJ.

MAX_BEDS = 5000
BEDS_INVALID = "Saisissez un nombre entier de lits, sans espace ni lettre."
BEDS_NEGATIVE = "Le nombre de lits ne peut pas être négatif."
BEDS_TOO_MANY = "Nombre de lits invraisemblable : 5 000 au plus par activité."
SOFTWARE_TOO_LONG = "Nom trop long : 200 caractères au plus (%(show_value)d saisis)."

BED_FIELDS = (
    "beds_medicine",
    "beds_surgery",
    "beds_obstetrics",
    "beds_rehabilitation",
    "beds_psychiatry",
    "beds_long_term",
    "places_home_hospitalisation",
)
SOFTWARE_FIELDS = (
    "patient_record_software",
    "prescription_software",
    "pharmacy_software",
    "prescription_software_certified",
)

_DIGITS = re.compile(r"-?[0-9]+")


def _label(field_name: str) -> str:
    return capfirst(IdentificationData._meta.get_field(field_name).verbose_name)


class BedCountField(forms.IntegerField):
    """A whole number of beds (or places), 0 to MAX_BEDS, ASCII digits only; empty means not filled in.

    Stricter than IntegerField, which also takes « 12.0 », « 1_000 » or non-ASCII digits.
    """

    widget = forms.TextInput(attrs={"inputmode": "numeric"})
    default_error_messages = {"invalid": BEDS_INVALID, "min_value": BEDS_NEGATIVE, "max_value": BEDS_TOO_MANY}

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_BEDS, required=False, **kwargs)

    def to_python(self, value):
        text = "" if value in self.empty_values else str(value).strip()
        if not text:
            return None
        if not _DIGITS.fullmatch(text):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        # Very long numbers are refused before int() (which limits the number of digits).
        if len(text.lstrip("-").lstrip("0")) > len(str(MAX_BEDS)):
            code = "min_value" if text.startswith("-") else "max_value"
            raise ValidationError(self.error_messages[code], code=code)
        return int(text)


class YesNoUnknownField(forms.TypedChoiceField):
    """Oui / Non / Non renseigné, stored as True / False / None."""

    CHOICES = [("oui", "Oui"), ("non", "Non"), ("", "Non renseigné")]

    def __init__(self, **kwargs):
        super().__init__(
            choices=self.CHOICES,
            coerce=lambda value: value == "oui",
            empty_value=None,
            required=False,
            widget=forms.RadioSelect,
            **kwargs,
        )

    def prepare_value(self, value):
        return {True: "oui", False: "non", None: ""}.get(value, value)


def _software_field(field_name: str) -> forms.CharField:
    return forms.CharField(
        label=_label(field_name),
        max_length=200,
        required=False,
        error_messages={"max_length": SOFTWARE_TOO_LONG},
    )


class IdentificationForm(forms.ModelForm):
    """« Nombre de lits et places par activité » and « Systèmes d'information » of an ET for one year.

    Only the values: the ET, the year and who validated come from the server (SECURITY.md C4).
    """

    beds_medicine = BedCountField(label=_label("beds_medicine"))
    beds_surgery = BedCountField(label=_label("beds_surgery"))
    beds_obstetrics = BedCountField(label=_label("beds_obstetrics"))
    beds_rehabilitation = BedCountField(label=_label("beds_rehabilitation"))
    beds_psychiatry = BedCountField(label=_label("beds_psychiatry"))
    beds_long_term = BedCountField(label=_label("beds_long_term"))
    places_home_hospitalisation = BedCountField(label=_label("places_home_hospitalisation"))
    patient_record_software = _software_field("patient_record_software")
    prescription_software = _software_field("prescription_software")
    pharmacy_software = _software_field("pharmacy_software")
    prescription_software_certified = YesNoUnknownField(label=_label("prescription_software_certified"))

    class Meta:
        model = IdentificationData
        fields = [*BED_FIELDS, *SOFTWARE_FIELDS]

    def bed_fields(self):
        return [self[name] for name in BED_FIELDS]

    def software_fields(self):
        """The software names; the « LAP certifié HAS » choice is rendered on its own."""
        return [self[name] for name in SOFTWARE_FIELDS if name != "prescription_software_certified"]
