"""The contract pages and the hooks of contracts/hooks.py: `contracts` shows what the apps built on it give,
in the slots they name, and stands alone when none gives anything."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains

from contracts import hooks
from contracts.hooks import Block, PrecampaignWindow
from contracts.perms import NO_CAMPAIGN
from contracts.views.contract import blocks_by_slot
from tests.contracts.factories import ContractFactory, EtablissementFactory


SLOT_TEMPLATES = {
    "test/_header.html": '<p id="test-header">{{ block.word }} — {{ contract.name }}</p>',
    "test/_actions.html": '<p id="test-actions">{{ block.word }}</p>',
    "test/_body.html": '<p id="test-body">{{ block.word }}</p>',
}


@pytest.fixture
def slot_templates(settings):
    """Block templates of a made-up app, next to the project's."""
    engine = {**settings.TEMPLATES[0], "APP_DIRS": False}
    engine["OPTIONS"] = {
        **engine["OPTIONS"],
        "loaders": [
            ("django.template.loaders.locmem.Loader", SLOT_TEMPLATES),
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ],
    }
    settings.TEMPLATES = [engine]


@pytest.fixture
def contract(ej):
    return ContractFactory(ej=ej, name="CAQES TEST")


def contract_url(contract):
    return reverse("contracts:contract_detail", args=[contract.public_id])


def test_each_block_is_shown_in_its_slot(client_for, member, contract, slot_templates, monkeypatch):
    def several(request, contract):
        return [Block("test/_body.html", {"word": "corps"}), Block("test/_header.html", {"word": "bandeau"}, "header")]

    def one(request, contract):
        return Block("test/_actions.html", {"word": "boutons"}, slot="actions")

    monkeypatch.setattr(hooks.contract_page, "_functions", [several, one, lambda request, contract: None])

    content = client_for(member).get(contract_url(contract)).content.decode()

    # The page's own context (the contract) reaches the blocks.
    assert '<p id="test-header">bandeau — CAQES TEST</p>' in content
    positions = [
        content.index('id="test-header"'),
        content.index("<h1>CAQES TEST</h1>"),
        content.index('id="test-actions"'),
        content.index("<dt>Contrat</dt>"),
        content.index("Accéder à la liste des établissements du contrat"),
        content.index('id="test-body"'),
    ]
    assert positions == sorted(positions)


def test_without_any_app_the_page_shows_the_contract_alone(client_for, member, contract, monkeypatch):
    monkeypatch.setattr(hooks.contract_page, "_functions", [])

    response = client_for(member).get(contract_url(contract))

    assertContains(response, "<h1>CAQES TEST</h1>", html=True)
    assertContains(response, "<dt>Type de contrat</dt>", html=True)
    assertNotContains(response, "ecars-state-banner")


def test_blocks_by_slot_keeps_the_order_of_registration():
    first, second, third = (Block(f"{name}.html") for name in ("a", "b", "c"))
    header = Block("h.html", slot="header")
    assert blocks_by_slot([[first, header], second, [third]]) == {
        "header": [header],
        "actions": [],
        "body": [first, second, third],
    }


def test_without_a_state_provider_the_ej_page_shows_a_dash(client_for, member, ej, contract, monkeypatch):
    monkeypatch.setattr(hooks.contract_states, "_functions", [])

    response = client_for(member).get(reverse("contracts:ej_detail", args=[ej.public_id]))

    assertContains(response, "<td>—</td>", html=True)


def test_the_identification_page_takes_the_precampaign_from_the_hook(client_for, member, ej, contract, monkeypatch):
    etablissement = EtablissementFactory(ej=ej)
    contract.etablissements.add(etablissement)
    url = reverse("contracts:identification", args=[contract.public_id, etablissement.public_id])
    today = timezone.localdate()
    window = PrecampaignWindow(
        year=2031, start=today - datetime.timedelta(days=1), end=today + datetime.timedelta(days=1), name="Essai"
    )

    monkeypatch.setattr(hooks.precampaign, "_functions", [lambda contract, today: window])
    response = client_for(member).get(url)
    assertContains(response, "<div><dt>Campagne</dt><dd>Essai</dd></div>", html=True)
    assertContains(response, "<div><dt>Année</dt><dd>2031</dd></div>", html=True)
    assertContains(response, "Valider les données")

    monkeypatch.setattr(hooks.precampaign, "_functions", [])
    response = client_for(member).get(url)
    assertContains(response, escape(NO_CAMPAIGN))
    assertNotContains(response, "Valider les données")
