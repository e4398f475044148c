"""The admin, working screen of agency staff: every page renders, each agent sees their region only,
append-only data stays read-only, and nobody grants themselves privileges (SECURITY.md C5, C6).
"""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.enums import UserKind
from accounts.models import Invitation, LoginPolicy
from audit.models import AuditChainHead, AuditEvent
from contracts.finess import finess_luhn_ok
from contracts.models import Contract, EntiteJuridique, Etablissement, Region
from documents.models import Document
from evaluation.models import (
    Attachment,
    Campaign,
    ClosureReceipt,
    Consolidation,
    ContradictoryRound,
    Decision,
    Evaluation,
    ExtensionRequest,
    IndicatorValue,
    IndicatorValueHistory,
    Notice,
    Observation,
    ObservationDocument,
    Report,
    SelfEvaluation,
    Transition,
)
from tests.accounts.factories import UserFactory
from tests.contracts.factories import (
    ContractFactory,
    EntiteJuridiqueFactory,
    EtablissementFactory,
)
from tests.ecars.admin_objects import make_object_set


PROJECT_APPS = {"accounts", "contracts", "evaluation", "documents", "audit"}
REGISTERED = list(admin.site._registry)
PROJECT_MODELS = [model for model in REGISTERED if model._meta.app_label in PROJECT_APPS]
# Written only through services or append-only: no add, change or delete in the admin, for anybody.
VIEW_ONLY_MODELS = [
    Invitation,
    AuditEvent,
    Transition,
    IndicatorValueHistory,
    IndicatorValue,
    SelfEvaluation,
    ExtensionRequest,
    ClosureReceipt,
    Document,
    Attachment,
    Evaluation,
    Decision,
    Consolidation,
    Report,
    ContradictoryRound,
    Observation,
    ObservationDocument,
    Notice,
]


def label(model):
    return model._meta.label


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def regional_objects(region):
    return make_object_set(region)


@pytest.fixture
def superuser():
    return UserFactory(kind=UserKind.ARS, is_staff=True, is_superuser=True)


# Machinery, not records: the heads of the audit chains repeat the last event of each chain (audit.models).
NOT_REGISTERED = {AuditChainHead}


def test_every_project_model_is_registered():
    project_models = {model for app_label in PROJECT_APPS for model in apps.get_app_config(app_label).get_models()}
    assert project_models == set(PROJECT_MODELS) | NOT_REGISTERED


# --- Every page renders ------------------------------------------------------------------------


@pytest.mark.parametrize("app_label", sorted(PROJECT_APPS))
def test_admin_index_and_app_pages_render_for_agency_staff(app_label, client_for, ars_staff):
    client = client_for(ars_staff)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:app_list", args=[app_label])).status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_changelist_renders_for_agency_staff_or_is_forbidden_without_view_permission(
    model, client_for, ars_staff, regional_objects
):
    """An agent opens the list of every model they may view, with their region's rows; others are 403."""
    response = client_for(ars_staff).get(admin_url(model, "changelist"))
    if ars_staff.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
        assert response.status_code == 200
        assert response.context["cl"].result_count >= 1
    else:
        assert model._meta.app_label not in PROJECT_APPS
        assert response.status_code == 403


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_add_page_renders_for_agency_staff_only_with_add_permission(model, client_for, ars_staff):
    """The add page opens where the agent may add, and answers 403 elsewhere (view-only models included)."""
    response = client_for(ars_staff).get(admin_url(model, "add"))
    may_add = ars_staff.has_perm(f"{model._meta.app_label}.add_{model._meta.model_name}")
    assert response.status_code == (200 if may_add else 403)
    if model in VIEW_ONLY_MODELS:
        assert response.status_code == 403


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=label)
def test_change_and_history_pages_render_for_agency_staff_in_their_region(
    model, client_for, ars_staff, regional_objects
):
    """An agent opens the page and the history of every object of their region."""
    obj = regional_objects[model]
    client = client_for(ars_staff)
    assert client.get(admin_url(model, "change", obj.pk)).status_code == 200
    assert client.get(admin_url(model, "history", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_changelist_add_and_change_pages_render_for_superuser(model, client_for, superuser, regional_objects):
    client = client_for(superuser)
    assert client.get(admin_url(model, "changelist")).status_code == 200
    if model in PROJECT_MODELS:
        # The login policy is a single row: once it exists, there is nothing to add.
        refused = model in VIEW_ONLY_MODELS or model is LoginPolicy
        assert client.get(admin_url(model, "add")).status_code == (403 if refused else 200)
        assert client.get(admin_url(model, "change", regional_objects[model].pk)).status_code == 200


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=label)
def test_changelist_search_finds_rows_by_finess_or_name(model, client_for, ars_staff, regional_objects):
    """Every search field is a valid lookup; lists reached through an EJ are searchable by its FINESS."""
    ej = regional_objects[EntiteJuridique]
    client = client_for(ars_staff)
    response = client.get(admin_url(model, "changelist"), {"q": ej.finess})
    assert response.status_code == 200
    if any("finess" in field for field in admin.site._registry[model].search_fields):
        assert response.context["cl"].result_count >= 1
    if admin.site._registry[model].search_fields:
        assert client.get(admin_url(model, "changelist"), {"q": "introuvable"}).context["cl"].result_count == 0


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=label)
def test_changelist_queries_do_not_grow_with_rows(model, client_for, ars_staff, region):
    """No N+1 queries: the number of queries of a list is the same for 1 and for 4 rows of each model."""
    client = client_for(ars_staff)
    url = admin_url(model, "changelist")
    make_object_set(region)
    client.get(url)  # warm-up: content types, session

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    with_one_set = count_queries()
    for _ in range(3):
        make_object_set(region)
    assert count_queries() == with_one_set


@pytest.mark.parametrize(
    ("model", "make_row"),
    [
        (EntiteJuridique, lambda region: EntiteJuridiqueFactory(region=region)),
        (Contract, lambda region: ContractFactory(ej__region=region)),
    ],
    ids=["ej", "contract"],
)
def test_ej_and_contract_changelists_run_as_many_queries_for_3_rows_as_for_30(
    model, make_row, client_for, ars_staff, region
):
    client = client_for(ars_staff)
    url = admin_url(model, "changelist")
    for _ in range(3):
        make_row(region)
    client.get(url)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response.context["cl"].result_count

    queries_for_3, rows = count_queries()
    assert rows == 3
    for _ in range(27):
        make_row(region)
    assert count_queries() == (queries_for_3, 30)


# --- Region isolation --------------------------------------------------------------------------


@pytest.fixture
def foreign_objects(other_region):
    """One object of every project model, in another region than the agent's."""
    return make_object_set(other_region)


@pytest.mark.parametrize("model", [EntiteJuridique, Contract], ids=label)
def test_agency_staff_does_not_list_objects_of_another_region(
    model, client_for, ars_staff, regional_objects, foreign_objects
):
    """An agent's lists only hold the EJ and contracts of their own region."""
    response = client_for(ars_staff).get(admin_url(model, "changelist"))
    listed = set(response.context["cl"].result_list)
    assert regional_objects[model] in listed
    assert foreign_objects[model] not in listed


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=label)
def test_agency_staff_gets_404_on_pages_of_another_region(model, client_for, ars_staff, foreign_objects):
    """The change and history pages of another region's object answer 404, as for a missing object.

    Referentials, contract types and the login policy are national: every agent may open them. The node
    of the set is a regional one (of the other region).
    """
    obj = foreign_objects[model]
    client = client_for(ars_staff)
    expected = 200 if model._meta.model_name in {"referential", "contracttype", "loginpolicy"} else 404
    assert client.get(admin_url(model, "change", obj.pk)).status_code == expected
    assert client.get(admin_url(model, "history", obj.pk)).status_code == expected


def test_agency_staff_cannot_attach_an_etablissement_to_an_ej_of_another_region(client_for, ars_staff, other_region):
    """Foreign-key choices are scoped: an ET cannot be created under another region's EJ."""
    foreign_ej = EntiteJuridiqueFactory(region=other_region)
    response = client_for(ars_staff).post(
        admin_url(Etablissement, "add"),
        {
            "finess": "340000000",
            "name": "SITE INTRUS",
            "ej": foreign_ej.pk,
            "identifications-TOTAL_FORMS": "0",
            "identifications-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "ej" in response.context["adminform"].form.errors
    assert not Etablissement.objects.filter(finess="340000000").exists()


def test_agency_staff_cannot_give_a_contract_to_an_ej_of_another_region(
    client_for, ars_staff, regional_objects, other_region
):
    """A contract of the agent's region cannot be moved to another region's EJ."""
    contract = regional_objects[Contract]
    foreign_ej = EntiteJuridiqueFactory(region=other_region)
    response = client_for(ars_staff).get(admin_url(Contract, "change", contract.pk))
    form = response.context["adminform"].form
    assert foreign_ej not in form.fields["ej"].queryset
    assert regional_objects[EntiteJuridique] in form.fields["ej"].queryset


def test_autocomplete_only_offers_ej_of_the_agents_region(client_for, ars_staff, ej, other_region):
    """The EJ search behind the autocomplete widgets is scoped like the lists."""
    foreign_ej = EntiteJuridiqueFactory(region=other_region)
    response = client_for(ars_staff).get(
        reverse("admin:autocomplete"),
        {"app_label": "contracts", "model_name": "etablissement", "field_name": "ej", "term": ""},
    )
    ids = {int(result["id"]) for result in response.json()["results"]}
    assert ej.pk in ids
    assert foreign_ej.pk not in ids


def test_membership_user_choices_are_establishment_users_only(client_for, ars_staff, member):
    """Agency staff reach EJ through their region: they can never be made members of an EJ."""
    response = client_for(ars_staff).get(
        reverse("admin:autocomplete"),
        {"app_label": "contracts", "model_name": "membership", "field_name": "user", "term": ""},
    )
    ids = {int(result["id"]) for result in response.json()["results"]}
    assert member.pk in ids
    assert ars_staff.pk not in ids


def test_user_sessions_can_be_searched_by_email(client_for, superuser, member):
    response = client_for(superuser).get(reverse("admin:usersessions_usersession_changelist"), {"q": member.email})
    assert response.status_code == 200


# --- No delete, view-only ----------------------------------------------------------------------


@pytest.mark.parametrize("model", VIEW_ONLY_MODELS, ids=label)
def test_delete_page_is_forbidden_even_for_a_superuser(model, client_for, superuser, regional_objects):
    """Values, documents, audit events and logs are never deleted from the admin, by anybody."""
    obj = regional_objects[model]
    client = client_for(superuser)
    assert client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model", VIEW_ONLY_MODELS, ids=label)
def test_changelist_offers_no_delete_action_even_for_a_superuser(model, client_for, superuser, regional_objects):
    """No « Supprimer les … sélectionnés » action on append-only or service-written data (actions that call
    services, such as « Rouvrir la saisie », may be offered)."""
    obj = regional_objects[model]
    client = client_for(superuser)
    response = client.get(admin_url(model, "changelist"))
    action_form = response.context["action_form"]
    offered = [name for name, _ in action_form.fields["action"].choices] if action_form else []
    assert "delete_selected" not in offered
    assert b"delete_selected" not in response.content
    client.post(
        admin_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model", VIEW_ONLY_MODELS, ids=label)
def test_view_only_models_refuse_changes_even_from_a_superuser(model, client_for, superuser, regional_objects):
    """Changes to logs, values, self-evaluations and documents go through services, never the admin."""
    obj = regional_objects[model]
    response = client_for(superuser).post(admin_url(model, "change", obj.pk), {})
    assert response.status_code == 403


# --- FINESS key --------------------------------------------------------------------------------


def ej_form_data(finess, region):
    return {
        "finess": finess,
        "name": "CLINIQUE DU TEST",
        "region": region.pk,
        "etablissements-TOTAL_FORMS": "0",
        "etablissements-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }


def warnings_of(response):
    return [str(message) for message in get_messages(response.wsgi_request) if message.level_tag == "warning"]


def test_ej_with_a_wrong_finess_key_is_saved_with_a_warning(client_for, ars_staff, region):
    finess = "310000001"
    assert finess_luhn_ok(finess) is False
    response = client_for(ars_staff).post(admin_url(EntiteJuridique, "add"), ej_form_data(finess, region))
    assert response.status_code == 302
    assert EntiteJuridique.objects.filter(finess=finess).exists()
    [warning] = warnings_of(response)
    assert warning.startswith("La clé de contrôle du numéro FINESS 310000001 (CLINIQUE DU TEST) semble incorrecte")


def test_et_with_a_wrong_finess_key_is_saved_with_a_warning(client_for, ars_staff, ej):
    response = client_for(ars_staff).post(
        admin_url(Etablissement, "add"),
        {
            "finess": "340000001",
            "name": "SITE DOUTEUX",
            "ej": ej.pk,
            "identifications-TOTAL_FORMS": "0",
            "identifications-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert "340000001" in warnings_of(response)[0]


def test_ej_with_a_corsican_finess_is_saved_without_warning(client_for, ars_staff, region):
    response = client_for(ars_staff).post(admin_url(EntiteJuridique, "add"), ej_form_data("2A0000017", region))
    assert response.status_code == 302
    assert EntiteJuridique.objects.filter(finess="2A0000017").exists()
    assert warnings_of(response) == []


def test_agency_staff_cannot_create_an_ej_in_another_region(client_for, ars_staff, other_region):
    """The region choices of an agent are their own region only."""
    response = client_for(ars_staff).post(admin_url(EntiteJuridique, "add"), ej_form_data("2B0000017", other_region))
    assert response.status_code == 200
    assert "region" in response.context["adminform"].form.errors
    assert not EntiteJuridique.objects.filter(finess="2B0000017").exists()


def test_ej_inline_etablissement_with_a_wrong_finess_key_is_saved_with_a_warning(client_for, ars_staff, ej):
    data = {
        **ej_form_data(ej.finess, ej.region),
        "name": ej.name,
        "etablissements-TOTAL_FORMS": "1",
        "etablissements-0-finess": "340000001",
        "etablissements-0-name": "SITE DOUTEUX",
    }
    response = client_for(ars_staff).post(admin_url(EntiteJuridique, "change", ej.pk), data)
    assert response.status_code == 302
    assert ej.etablissements.filter(finess="340000001").exists()
    assert any("340000001 (SITE DOUTEUX)" in warning for warning in warnings_of(response))


# --- Contracts and campaigns -------------------------------------------------------------------


def test_contract_cannot_cover_an_etablissement_of_another_ej(client_for, ars_staff, regional_objects, other_ej):
    contract = regional_objects[Contract]
    stranger = EtablissementFactory(ej=other_ej)
    response = client_for(ars_staff).post(
        admin_url(Contract, "change", contract.pk),
        {
            "contract_type": contract.contract_type_id,
            "name": contract.name,
            "status": contract.status,
            "ej": contract.ej_id,
            "etablissements": [stranger.pk],
            "administrative_contacts-TOTAL_FORMS": "0",
            "administrative_contacts-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["etablissements"] == [
        f"Ces établissements n'appartiennent pas à l'entité juridique du contrat : {stranger}"
    ]


def campaign_form_data(referential, **overrides):
    return {
        "code": "caqes-2026",
        "name": "CAQES 2026",
        "contract_type": referential.contract_type_id,
        "year": "2026",
        "referential": referential.pk,
        "state": "preparation",
        "self_assessment_start": "2027-03-01",
        "self_assessment_deadline": "2027-04-30",
        **overrides,
    }


def test_agency_staff_campaign_covers_their_region_only(client_for, ars_staff, region, other_region, regional_objects):
    """A campaign created by an agent is a campaign of their region, whatever the POST says."""
    referential = regional_objects[Campaign].referential
    response = client_for(ars_staff).post(
        admin_url(Campaign, "add"), campaign_form_data(referential, regions=[other_region.pk])
    )
    assert response.status_code == 302
    assert list(Campaign.objects.get(code="caqes-2026").regions.all()) == [region]


def test_campaign_shared_with_another_region_is_view_only_for_agency_staff(
    client_for, ars_staff, regional_objects, other_region
):
    """An agent cannot change a campaign that other regions share (nor drop those regions from it)."""
    campaign = regional_objects[Campaign]
    campaign.regions.add(other_region)
    client = client_for(ars_staff)
    response = client.get(admin_url(Campaign, "change", campaign.pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    data = campaign_form_data(campaign.referential, code=campaign.code, name="Renommée")
    assert client.post(admin_url(Campaign, "change", campaign.pk), data).status_code == 403
    assert set(campaign.regions.all()) == {regional_objects[Region], other_region}
