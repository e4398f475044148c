"""The indicator tree: dots, « Pourcentage de remplissage », and « Clore la saisie »."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import User
from contracts.enums import MembershipRole
from demo.world import DEMO_USER_EMAIL
from evaluation.enums import AnswerLevel, FilledBy, SelfEvaluationState
from evaluation.models import IndicatorValue, SelfEvaluation, Transition
from evaluation.perms import Abilities
from evaluation.tree import GREEN, GREY, RED, build_tree, percent
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.evaluation.factories import IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


@pytest.fixture
def demo(db):
    call_command("seed_demo", password="Demo-e-CARS-2026!", stdout=io.StringIO())
    user = User.objects.get(email=DEMO_USER_EMAIL)
    User.objects.filter(pk=user.pk).update(password_must_change=False)
    user.refresh_from_db()
    return user, SelfEvaluation.objects.filter(contract__name="CAQES TEST").latest_first().first()


def indicators_url(self_evaluation):
    return reverse("evaluation:indicators", args=[self_evaluation.public_id])


@pytest.mark.parametrize("filled,total,expected", [(0, 20, 0), (1, 20, 5), (19, 20, 95), (20, 20, 100), (2, 3, 66)])
def test_the_percentage_is_rounded_down(filled, total, expected):
    assert percent(filled, total) == expected


def test_the_demo_tree_starts_at_zero_and_one_answer_shows_five_percent(client_for, demo):
    user, self_evaluation = demo
    response = client_for(user).get(indicators_url(self_evaluation))
    assertContains(response, "Pourcentage de remplissage : 0 %")
    assertContains(response, "EJ - 380780080 - CHU DE GRENOBLE ALPES")
    assertContains(response, "1.1.1.a - Taux d&#x27;ordonnances de sortie")
    assertContains(response, "Replier le contrat")
    value = IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code="2.1.1.a")
    value.value = "1"
    value.save()
    response = client_for(user).get(indicators_url(self_evaluation))
    assertContains(response, "Pourcentage de remplissage : 5 %")


def test_dots_follow_the_manuals_rules(demo):
    _, self_evaluation = demo
    IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code="2.1.1.a").update(value="1")
    tree = build_tree(self_evaluation, can=Abilities(write=True))
    dots = {q.node.code: q.dot for q in tree.questions}
    assert dots["2.1.1.a"] == GREEN  # to fill, filled
    assert dots["2.1.1.b"] == RED  # to fill, not filled
    assert dots["4.1.1.a"] == GREY  # answered by the Assurance Maladie
    readonly = build_tree(self_evaluation, can=Abilities())
    assert {q.dot for q in readonly.questions} == {GREY}  # this user cannot edit anything now


def test_branch_percentages(demo):
    _, self_evaluation = demo
    IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code__startswith="2.1.1.").update(
        value="1"
    )
    tree = build_tree(self_evaluation, can=Abilities(write=True))
    by_code = {}

    def walk(branch):
        by_code[branch.node.code] = branch.percent
        for child in branch.children:
            walk(child)

    for root in tree.roots:
        walk(root)
    assert by_code["2.1.1"] == 100
    assert by_code["2.1"] == 33  # 3 of 9
    assert by_code["1.1"] == 0


def test_not_applicable_counts_as_filled(demo):
    _, self_evaluation = demo
    IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code="1.1.1.a").update(
        not_applicable=True, not_applicable_reason="Pas d'ordonnances de sortie."
    )
    assert build_tree(self_evaluation, can=Abilities(write=True)).filled == 1


def test_et_level_questions_appear_once_per_establishment(client_for, member, ej):
    contract = ContractFactory(ej=ej)
    sites = EtablissementFactory.create_batch(2, ej=ej)
    contract.etablissements.set(sites)
    self_evaluation = SelfEvaluationFactory(contract=contract)
    question = NodeFactory(referential=self_evaluation.campaign.referential, oui_non=True, answer_level=AnswerLevel.ET)
    for site in sites:
        IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question, etablissement=site)
    tree = build_tree(self_evaluation, can=Abilities(write=True))
    assert [q.value.etablissement for q in tree.questions] == sorted(sites, key=lambda s: s.finess)
    assert tree.total == 2


@pytest.mark.parametrize("size", [3, 30])
def test_the_tree_page_runs_the_same_queries_whatever_its_size(
    client_for, member, ej, size, django_assert_num_queries
):
    self_evaluation = SelfEvaluationFactory(contract=ContractFactory(ej=ej))
    referential = self_evaluation.campaign.referential
    for n in range(size):
        objective = NodeFactory(referential=referential, code=f"{n}")
        question = NodeFactory(referential=referential, parent=objective, code=f"{n}.a", oui_non=True)
        IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question)
    client = client_for(member)
    client.get(indicators_url(self_evaluation))
    # session, user, savepoint, the self-evaluation (with the user's role in the EJ), its values, release: the
    # referential's nodes are read once per process (evaluation.tree.referential_nodes).
    with django_assert_num_queries(6):
        client.get(indicators_url(self_evaluation))


def test_an_edited_referential_shows_at_once_on_the_pages_that_read_it_before(client_for, member, ej):
    """The nodes are kept by each process, keyed on the referential's tree version, which every change of a
    node bumps: a label changed, a regional question added, a node moved to another referential."""
    self_evaluation = SelfEvaluationFactory(contract=ContractFactory(ej=ej))
    referential = self_evaluation.campaign.referential
    objective = NodeFactory(referential=referential, code="1", label="Objectif d'origine")
    question = NodeFactory(referential=referential, parent=objective, code="1.a", label="Question", oui_non=True)
    IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question)
    client = client_for(member)
    assertContains(client.get(indicators_url(self_evaluation)), "Objectif d&#x27;origine")
    referential.refresh_from_db()
    version = referential.tree_version

    objective.label = "Objectif renommé"
    objective.save()
    referential.refresh_from_db()
    assert referential.tree_version == version + 1
    response = client.get(indicators_url(self_evaluation))
    assertContains(response, "Objectif renommé")
    assertNotContains(response, "Objectif d&#x27;origine")

    regional = NodeFactory(
        referential=referential, parent=objective, code="1.b", label="Régionale", region=ej.region, oui_non=True
    )
    IndicatorValueFactory(self_evaluation=self_evaluation, indicator=regional)
    assertContains(client.get(indicators_url(self_evaluation)), "1.b - Régionale")
    assert client.get(reverse("evaluation:question", args=[self_evaluation.public_id, "1.b"])).status_code == 200

    other = NodeFactory(code="autre").referential
    other.refresh_from_db()
    moved_version = other.tree_version
    regional.referential = other
    regional.parent = None
    regional.save()
    other.refresh_from_db()
    assert other.tree_version == moved_version + 1
    assertNotContains(client.get(indicators_url(self_evaluation)), "1.b - Régionale")
    assert client.get(reverse("evaluation:question", args=[self_evaluation.public_id, "1.b"])).status_code == 404

    IndicatorValue.objects.filter(indicator=question).delete()
    question.delete()
    assertNotContains(client.get(indicators_url(self_evaluation)), "1.a - Question")


# --- « Clore la saisie » -------------------------------------------------------------------


def close_url(self_evaluation):
    return reverse("evaluation:close", args=[self_evaluation.public_id])


def fill_everything(self_evaluation):
    IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__filled_by=FilledBy.ETABLISSEMENT).update(
        value="1"
    )


def test_closing_is_refused_while_questions_are_red(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    response = client.get(close_url(self_evaluation))
    assertContains(response, "Impossible de clore la saisie")
    assertContains(response, "Il reste 20 questions à saisir")
    assertContains(response, "1.1.1.a - Taux d&#x27;ordonnances de sortie")
    # The red questions are links to their form.
    assertContains(
        response, f'href="{reverse("evaluation:question", args=[self_evaluation.public_id, "1.1.1.a"])}#question"'
    )
    response = client.post(close_url(self_evaluation))
    assertRedirects(response, close_url(self_evaluation), fetch_redirect_response=False)
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION


def test_a_signataire_closes_a_complete_self_evaluation(client_for, demo):
    user, self_evaluation = demo
    fill_everything(self_evaluation)
    client = client_for(user)
    response = client.get(close_url(self_evaluation))
    assertContains(response, "Toutes les questions sont saisies")
    assertContains(response, "Vos réponses")
    response = client.post(close_url(self_evaluation))
    assertRedirects(response, reverse("contracts:contract_detail", args=[self_evaluation.contract.public_id]))
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.CLOTUREE
    assert self_evaluation.closed_by == user
    assert Transition.objects.filter(self_evaluation=self_evaluation, to_state=SelfEvaluationState.CLOTUREE).exists()
    page = client.get(reverse("contracts:contract_detail", args=[self_evaluation.contract.public_id]))
    assertContains(page, '<p class="ecars-state-banner__title">Consultation</p>', html=True)
    assertNotContains(page, "Clore la saisie</a>")
    # Closing again is refused on the server.
    client.post(close_url(self_evaluation))
    assert Transition.objects.filter(self_evaluation=self_evaluation).count() == 2  # opened, closed


def test_a_contributeur_cannot_close(client_for, demo):
    _, self_evaluation = demo
    fill_everything(self_evaluation)
    contributor = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    client = client_for(contributor)
    assertContains(client.get(close_url(self_evaluation)), "Vous ne pouvez pas clore cette auto-évaluation")
    client.post(close_url(self_evaluation))
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION


def test_the_tree_does_not_depend_on_the_order_of_positions(member, ej):
    self_evaluation = SelfEvaluationFactory(contract=ContractFactory(ej=ej))
    referential = self_evaluation.campaign.referential
    objective = NodeFactory(referential=referential, code="1", position=10)
    question = NodeFactory(referential=referential, parent=objective, code="1.a", position=1, oui_non=True)
    IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question)
    tree = build_tree(self_evaluation, can=Abilities(write=True))
    assert [branch.node.code for branch in tree.roots] == ["1"]
    assert [q.node.code for q in tree.roots[0].questions] == ["1.a"]
