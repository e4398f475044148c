import factory

from accounts.enums import UserKind
from accounts.models import User


DEFAULT_PASSWORD = "Mot-de-passe-de-test-1!"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"utilisateur{n}@exemple.fr")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    kind = UserKind.ETABLISSEMENT
    password = factory.django.Password(DEFAULT_PASSWORD)

    class Params:
        # An ARS agent with admin access, attached to a region (created if not given).
        ars_staff = factory.Trait(
            kind=UserKind.ARS,
            is_staff=True,
            region=factory.SubFactory("tests.contracts.factories.RegionFactory"),
            email=factory.Sequence(lambda n: f"agent{n}@ars.sante.fr"),
        )
        # The manual's first login: a temporary password to renew.
        temporary_password = factory.Trait(password_must_change=True)
