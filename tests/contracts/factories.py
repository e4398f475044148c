import factory

from contracts.enums import ContractStatus, MembershipRole
from contracts.models import (
    AdministrativeContact,
    Contract,
    ContractType,
    EntiteJuridique,
    Etablissement,
    IdentificationData,
    Membership,
    Region,
)


def _luhn_key(digits: str) -> str:
    """The digit that makes `digits + key` pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def finess_sequence(prefix: str):
    """Valid FINESS numbers (with a right Luhn key): `prefix` (2 digits) + 6 digits + key."""
    return factory.Sequence(lambda n: f"{prefix}{n:06d}" + _luhn_key(f"{prefix}{n:06d}"))


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    # Three digits (100–999), cycling: a long run never overflows the column, and never meets the
    # two-digit INSEE codes that fixtures give their regions.
    code = factory.Sequence(lambda n: str(100 + n % 900))
    name = factory.Sequence(lambda n: f"Région {n + 1}")
    agency_name = factory.LazyAttribute(lambda o: f"ARS {o.name}")
    support_email = factory.LazyAttribute(lambda o: f"support-{o.code}@ars.sante.fr")
    support_phone = "01 02 03 04 05"
    business_email = factory.LazyAttribute(lambda o: f"metier-{o.code}@ars.sante.fr")


class EntiteJuridiqueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntiteJuridique

    finess = finess_sequence("31")
    name = factory.Sequence(lambda n: f"CENTRE HOSPITALIER {n}")
    address = "1 avenue de l'Hôpital"
    postcode = "31000"
    city = "TOULOUSE"
    phone = "0561000000"
    region = factory.SubFactory(RegionFactory)


class EtablissementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Etablissement

    ej = factory.SubFactory(EntiteJuridiqueFactory)
    finess = finess_sequence("34")
    name = factory.Sequence(lambda n: f"SITE {n}")
    postcode = "31000"
    city = "TOULOUSE"


class IdentificationDataFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdentificationData

    etablissement = factory.SubFactory(EtablissementFactory)
    year = 2026


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory("tests.accounts.factories.UserFactory")
    ej = factory.SubFactory(EntiteJuridiqueFactory)
    role = MembershipRole.CONTRIBUTEUR

    class Params:
        lecteur = factory.Trait(role=MembershipRole.LECTEUR)
        signataire = factory.Trait(role=MembershipRole.SIGNATAIRE)
        admin = factory.Trait(is_admin=True)


class ContractTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractType
        django_get_or_create = ("code",)

    code = "CAQES"
    name = "Contrat d'amélioration de la qualité et de l'efficience des soins"


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    contract_type = factory.SubFactory(ContractTypeFactory)
    name = factory.Sequence(lambda n: f"CAQES {n}")
    code = "PUBLIC"
    status = ContractStatus.SIGNE
    ej = factory.SubFactory(EntiteJuridiqueFactory)


class AdministrativeContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdministrativeContact

    contract = factory.SubFactory(ContractFactory)
    last_name = factory.Faker("last_name", locale="fr_FR")
    first_name = factory.Faker("first_name", locale="fr_FR")
    function = "Référent CAQES"
    email = factory.Sequence(lambda n: f"contact{n}@exemple.fr")
