"""The referential in the admin (issue 9): national nodes belong to national administrators, regional
nodes to their region's agents, and nobody changes the meaning of a question that has answers."""

import pytest
from django.urls import reverse

from evaluation.enums import FilledBy, ValueType
from evaluation.models import IndicatorValue, Node
from evaluation.perms import Abilities
from evaluation.services import create_self_evaluation
from evaluation.tree import build_tree
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, NodeFactory


MEANING_FROZEN = (
    "Cette question a déjà des réponses : son {} ne peut plus changer, sans quoi ces réponses changeraient de "
    "sens. Créez une nouvelle version du référentiel pour la prochaine campagne."
)


@pytest.fixture
def national_admin():
    return UserFactory(national_admin=True)


def node_url(node, view="change"):
    return reverse(f"admin:evaluation_node_{view}", args=[node.pk] if node else [])


def node_data(node, **overrides):
    return {
        "referential": node.referential_id,
        "parent": node.parent_id or "",
        "code": node.code,
        "label": node.label,
        "position": node.position,
        "value_type": node.value_type,
        "unit": node.unit,
        "choices": "[]",
        "default_target": node.default_target,
        "filled_by": node.filled_by,
        "answer_level": node.answer_level,
        "required": "on" if node.required else "",
        "help_text": node.help_text,
        "region": node.region_id or "",
        **overrides,
    }


def test_an_agent_cannot_change_a_national_question(client_for, ars_staff):
    """The attack: any agent changed the label, type, « who fills » and « required » of national questions
    answered in every region."""
    question = NodeFactory(indicator=True)
    client = client_for(ars_staff)
    assert client.get(node_url(question)).context["has_change_permission"] is False
    data = node_data(question, label="Piraté", value_type=ValueType.TEXTE, filled_by=FilledBy.ARS, required="")
    assert client.post(node_url(question), data).status_code == 403
    question.refresh_from_db()
    assert (question.label, question.value_type, question.filled_by, question.required) != (
        "Piraté",
        ValueType.TEXTE,
        FilledBy.ARS,
        False,
    )
    assert question.value_type == ValueType.OUI_NON


def test_an_agent_changes_a_regional_question_of_their_region(client_for, ars_staff, region):
    question = NodeFactory(indicator=True, region=region)
    response = client_for(ars_staff).post(node_url(question), node_data(question, label="Libellé précisé"))
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.label == "Libellé précisé"


def test_an_agents_new_node_is_a_regional_node_of_their_region(client_for, ars_staff, region, other_region):
    parent = NodeFactory()
    data = node_data(parent, code="9.9", label="Indicateur régional", parent=parent.pk, region=other_region.pk)
    data.update(value_type=ValueType.NOMBRE)
    assert client_for(ars_staff).post(node_url(None, "add"), data).status_code == 302
    assert Node.objects.get(code="9.9").region == region


def test_an_agent_gets_404_on_another_regions_regional_node(client_for, ars_staff, other_region):
    foreign = NodeFactory(indicator=True, region=other_region)
    client = client_for(ars_staff)
    assert client.get(node_url(foreign)).status_code == 404
    assert client.post(node_url(foreign), node_data(foreign, label="X")).status_code == 404
    listed = client.get(reverse("admin:evaluation_node_changelist")).context["cl"].result_list
    assert foreign not in listed


@pytest.mark.parametrize(
    "field,new,label",
    [
        ("value_type", ValueType.TEXTE, "type de valeur"),
        ("filled_by", FilledBy.ARS, "renseigné par"),
        ("required", "", "obligatoire"),
    ],
)
def test_the_meaning_of_an_answered_question_never_changes(client_for, national_admin, field, new, label):
    value = IndicatorValueFactory(filled=True)
    question = value.indicator
    response = client_for(national_admin).post(node_url(question), node_data(question, **{field: new}))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [MEANING_FROZEN.format(label)]
    question.refresh_from_db()
    assert (question.value_type, question.filled_by, question.required) == (
        ValueType.OUI_NON,
        FilledBy.ETABLISSEMENT,
        True,
    )


def test_the_label_of_an_answered_question_may_be_corrected(client_for, national_admin):
    question = IndicatorValueFactory(filled=True).indicator
    response = client_for(national_admin).post(node_url(question), node_data(question, label="Libellé corrigé"))
    assert response.status_code == 302


def test_a_question_without_answers_may_still_change_type(client_for, national_admin):
    question = IndicatorValueFactory().indicator  # opened, not answered yet
    data = node_data(question, value_type=ValueType.NOMBRE, default_target="")
    assert client_for(national_admin).post(node_url(question), data).status_code == 302
    question.refresh_from_db()
    assert question.value_type == ValueType.NOMBRE


def test_regional_questions_are_posed_to_their_region_only(region, other_region):
    campaign = CampaignFactory(regions=[region, other_region])
    national = NodeFactory(referential=campaign.referential, indicator=True, code="1.1")
    regional = NodeFactory(referential=campaign.referential, indicator=True, code="1.2", region=region)
    here = create_self_evaluation(contract=ContractFactory(ej__region=region), campaign=campaign)
    there = create_self_evaluation(contract=ContractFactory(ej__region=other_region), campaign=campaign)
    assert set(IndicatorValue.objects.filter(self_evaluation=here).values_list("indicator", flat=True)) == {
        national.pk,
        regional.pk,
    }
    assert set(IndicatorValue.objects.filter(self_evaluation=there).values_list("indicator", flat=True)) == {
        national.pk
    }
    codes_there = {question.node.code for question in build_tree(there, can=Abilities(write=True)).questions}
    assert codes_there == {"1.1"}
