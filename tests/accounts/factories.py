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
        # Evaluators of the Assurance Maladie and of the OMEDIT of a region.
        am_staff = factory.Trait(
            kind=UserKind.AM,
            is_staff=True,
            region=factory.SubFactory("tests.contracts.factories.RegionFactory"),
            email=factory.Sequence(lambda n: f"evaluateur{n}@assurance-maladie.fr"),
        )
        omedit_staff = factory.Trait(
            kind=UserKind.OMEDIT,
            is_staff=True,
            region=factory.SubFactory("tests.contracts.factories.RegionFactory"),
            email=factory.Sequence(lambda n: f"omedit{n}@ars.sante.fr"),
        )
        # A national administrator (a superuser: `manage.py createsuperuser`).
        national_admin = factory.Trait(
            kind=UserKind.ARS,
            is_staff=True,
            is_superuser=True,
            email=factory.Sequence(lambda n: f"admin{n}@sante.gouv.fr"),
        )
        # The manual's first login: a temporary password to renew.
        temporary_password = factory.Trait(password_must_change=True)
