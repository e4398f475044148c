import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from contracts.finess import finess_luhn_ok, validate_finess
from contracts.models import EntiteJuridique, Etablissement
from tests.contracts.factories import EntiteJuridiqueFactory, EtablissementFactory


@pytest.mark.parametrize(
    "finess",
    [
        "380780080",  # CHU de Grenoble Alpes (EJ)
        "340780477",  # CHU de Montpellier (EJ)
        "2A0000014",  # Corse-du-Sud
        "2B0000012",  # Haute-Corse
        "970100012",  # overseas
    ],
)
def test_valid_finess_numbers_are_accepted(finess):
    validate_finess(finess)


@pytest.mark.parametrize(
    "finess",
    [
        "38078008",  # 8 characters
        "3807800800",  # 10 characters
        "A80780080",  # letter in first position
        "38A780080",  # letter in third position
        "3807800A0",  # letter in the key
        "2a0000014",  # lowercase Corsica letter
        "380 78008",  # space
        "",
    ],
)
def test_invalid_finess_numbers_are_refused_with_a_french_message(finess):
    with pytest.raises(ValidationError) as excinfo:
        validate_finess(finess)
    assert "9 caractères" in excinfo.value.messages[0]


def test_luhn_key_is_checked_on_numeric_numbers_only():
    assert finess_luhn_ok("380780080") is True
    assert finess_luhn_ok("380780081") is False
    # Corsica numbers are never checked: the substitution rule is not official.
    assert finess_luhn_ok("2A0000019") is None
    assert finess_luhn_ok("38078008") is None


def test_model_validation_reports_a_bad_finess(region):
    ej = EntiteJuridique(finess="38A780080", name="CH TEST", region=region)
    with pytest.raises(ValidationError) as excinfo:
        ej.full_clean()
    assert "finess" in excinfo.value.message_dict


@pytest.mark.parametrize("finess", ["38078008", "38A780080", "2a0000014"])
def test_database_refuses_a_bad_finess_even_when_validation_is_bypassed(region, finess):
    with pytest.raises(IntegrityError), transaction.atomic():
        EntiteJuridique.objects.create(finess=finess, name="CH TEST", region=region)
    assert not EntiteJuridique.objects.filter(finess=finess).exists()


def test_database_refuses_a_bad_et_finess(ej):
    with pytest.raises(IntegrityError), transaction.atomic():
        Etablissement.objects.create(ej=ej, finess="12345678X", name="SITE")
    assert not Etablissement.objects.exists()


def test_corsica_finess_is_stored(region):
    ej = EntiteJuridiqueFactory(finess="2A0000014", region=region)
    ej.full_clean()
    assert EntiteJuridique.objects.get(finess="2A0000014") == ej


def test_finess_is_unique(ej):
    with pytest.raises(IntegrityError), transaction.atomic():
        EntiteJuridiqueFactory(finess=ej.finess, region=ej.region)
    et = EtablissementFactory(ej=ej)
    with pytest.raises(IntegrityError), transaction.atomic():
        EtablissementFactory(ej=ej, finess=et.finess)
