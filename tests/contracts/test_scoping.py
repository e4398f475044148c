"""One entry point per model decides what a user may see (SECURITY.md C2)."""

from django.contrib.auth.models import AnonymousUser

from contracts.models import Contract, EntiteJuridique
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, EntiteJuridiqueFactory, MembershipFactory


def test_members_see_their_ej_and_contracts_only(member, ej, other_ej):
    contract = ContractFactory(ej=ej)
    ContractFactory(ej=other_ej)
    assert list(EntiteJuridique.objects.for_user(member)) == [ej]
    assert list(Contract.objects.for_user(member)) == [contract]


def test_a_user_of_several_ej_sees_each_of_them(member, ej, other_ej):
    MembershipFactory(user=member, ej=other_ej)
    assert set(EntiteJuridique.objects.for_user(member)) == {ej, other_ej}


def test_agency_staff_see_their_region_only(ars_staff, ej, other_ej, other_region):
    foreign_ej = EntiteJuridiqueFactory(region=other_region)
    ContractFactory(ej=foreign_ej)
    assert set(EntiteJuridique.objects.for_user(ars_staff)) == {ej, other_ej}
    assert not Contract.objects.for_user(ars_staff).filter(ej=foreign_ej).exists()


def test_inactive_and_anonymous_users_see_nothing(member, ej):
    member.is_active = False
    assert not EntiteJuridique.objects.for_user(member).exists()
    assert not EntiteJuridique.objects.for_user(AnonymousUser()).exists()
    assert not EntiteJuridique.objects.for_user(UserFactory()).exists()
