"""« Gestion des Contrats »: the user's EJ, sortable, searchable, 20 a page with a page-size choice."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory


@pytest.fixture
def director(region):
    """A user of a « direction commune » holding 45 EJ, with distinct names, cities and phones."""
    membership = MembershipFactory(
        ej=EntiteJuridiqueFactory(region=region, name="CH 00", city="VILLE 44", phone="0500000099")
    )
    user = membership.user
    for n in range(1, 45):
        MembershipFactory(
            user=user,
            ej=EntiteJuridiqueFactory(
                region=region, name=f"CH {n:02d}", city=f"VILLE {44 - n:02d}", phone=f"05000000{n:02d}"
            ),
        )
    return user


def rows(response):
    return [ej.name for ej in response.context["listing"].page.object_list]


def test_a_user_with_one_ej_still_sees_the_list(client_for, member, ej):
    response = client_for(member).get(reverse("contracts:home"))
    assertContains(response, f'href="{reverse("contracts:ej_detail", args=[ej.public_id])}"')
    assertContains(response, f"{ej.finess} - {ej.name}")
    assertContains(response, "1 ligne")


def test_a_direction_commune_sees_each_of_its_ej_twenty_a_page(client_for, director):
    client = client_for(director)
    first = client.get(reverse("contracts:home"))
    assert len(rows(first)) == 20
    assertContains(first, "45 lignes — page 1 sur 3")
    assertContains(first, 'aria-current="page"')
    third = client.get(reverse("contracts:home"), {"page": 3})
    assert len(rows(third)) == 5
    seen = rows(first) + rows(client.get(reverse("contracts:home"), {"page": 2})) + rows(third)
    assert sorted(seen) == [f"CH {n:02d}" for n in range(45)]


def test_the_page_size_can_be_chosen(client_for, director):
    response = client_for(director).get(reverse("contracts:home"), {"par_page": 50})
    assert len(rows(response)) == 45
    assertContains(response, '<option value="50" selected>50</option>', html=True)
    # An unknown size falls back to the manual's 20.
    assert len(rows(client_for(director).get(reverse("contracts:home"), {"par_page": 7}))) == 20


@pytest.mark.parametrize(
    "sort,first,last",
    [
        ("adresse", "CH 44", "CH 00"),  # cities run backwards
        ("-adresse", "CH 00", "CH 44"),
        ("telephone", "CH 01", "CH 00"),
        ("-telephone", "CH 00", "CH 01"),
    ],
)
def test_columns_sort_both_ways(client_for, director, sort, first, last):
    response = client_for(director).get(reverse("contracts:home"), {"tri": sort, "par_page": 50})
    assert rows(response)[0] == first
    assert rows(response)[-1] == last


def test_sorting_by_finess_is_the_default_and_headers_say_so(client_for, director):
    response = client_for(director).get(reverse("contracts:home"))
    finesses = [ej.finess for ej in response.context["listing"].page.object_list]
    assert finesses == sorted(finesses)
    assertContains(response, 'aria-sort="ascending"')
    assertContains(response, "?tri=-ej&amp;page=1")  # clicking again reverses


def test_an_unknown_sort_falls_back_to_the_default(client_for, director):
    response = client_for(director).get(reverse("contracts:home"), {"tri": "password"})
    assert response.status_code == 200
    assert response.context["listing"].sort == "ej"


def test_search_by_name_city_or_finess(client_for, director):
    client = client_for(director)
    assert rows(client.get(reverse("contracts:home"), {"q": "CH 07"})) == ["CH 07"]
    assert rows(client.get(reverse("contracts:home"), {"q": "ville 44"})) == ["CH 00"]
    response = client.get(reverse("contracts:home"), {"q": "introuvable"})
    assertContains(response, "Aucune entité juridique ne correspond à « introuvable ».")


def test_paging_keeps_the_search_and_the_sort(client_for, director):
    response = client_for(director).get(reverse("contracts:home"), {"q": "CH", "tri": "-telephone"})
    assertContains(response, "?q=CH&amp;tri=-telephone&amp;page=2")


def test_other_ej_never_appear(client_for, member, other_ej):
    assertNotContains(client_for(member).get(reverse("contracts:home")), other_ej.finess)


@pytest.mark.parametrize("rows_count", [5, 50])
def test_the_list_runs_the_same_queries_for_5_and_50_rows(client_for, region, rows_count, django_assert_num_queries):
    membership = MembershipFactory(ej=EntiteJuridiqueFactory(region=region))
    for _ in range(rows_count - 1):
        MembershipFactory(user=membership.user, ej=EntiteJuridiqueFactory(region=region))
    client = client_for(membership.user)
    client.get(reverse("contracts:home"))
    # session, user, savepoint, count, page, support region, release
    with django_assert_num_queries(7):
        client.get(reverse("contracts:home"), {"par_page": 100})
