"""The evaluators' pages: « Évaluations » (the list, its progress and filters) and « Évaluer » (the overview and
each question's page with the body's decision form), as the agents of each body see them."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import User
from contracts.models import Contract
from demo.world import AM_USER_EMAIL, ARS_USER_EMAIL
from evaluation.enums import EvaluatingBody, SelfEvaluationState, Verdict
from evaluation.models import Decision, IndicatorValue, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory
from tests.evaluation.test_consolidation import PRIVATE, World


CHANGELIST = reverse("admin:evaluation_evaluation_changelist")


@pytest.fixture
def world(ej):
    world = World(ej)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.CLOTUREE)
    world.self_evaluation.refresh_from_db()
    return world


def overview_url(world):
    return reverse("admin:evaluation_evaluation_evaluate", args=[world.self_evaluation.pk])


def question_url(world, code):
    return reverse(
        "admin:evaluation_evaluation_evaluate_question", args=[world.self_evaluation.pk, world.values[code].pk]
    )


def post_decision(client, world, code, verdict, motivation="", private_note="", version=0):
    return client.post(
        question_url(world, code),
        {"verdict": verdict, "motivation": motivation, "private_note": private_note, "version": version},
    )


# --- « Évaluations » ------------------------------------------------------------------------------------


def test_the_list_shows_the_contracts_to_evaluate_with_the_bodys_progress(client_for, world):
    world.decide("1.b", EvaluatingBody.AM, Verdict.ATTEINT)
    response = client_for(world.am).get(CHANGELIST)
    assertContains(response, f"{world.ej.finess} - {world.ej.name}")
    assertContains(response, "CAQES TEST")
    assertContains(response, "Clôturée")
    assertContains(response, "1 décidée / 1 à décider")  # 1.b decided, 2.a to decide
    assertContains(response, f'href="{overview_url(world)}"')
    response = client_for(world.ars).get(CHANGELIST)
    assertContains(response, "0 décidée / 3 à décider")


def test_the_list_leaves_out_self_evaluations_not_closed(client_for, world):
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.AUTO_EVALUATION)
    assertNotContains(client_for(world.ars).get(CHANGELIST), "CAQES TEST")


def test_the_list_filters_by_state_and_by_department(client_for, world, region):
    other = World(EntiteJuridiqueFactory(region=region, finess="750712184", name="HOPITAL DE PARIS"))
    SelfEvaluation.objects.filter(pk=other.self_evaluation.pk).update(state=SelfEvaluationState.DEFINITIVE)
    client = client_for(world.ars)
    department = world.ej.finess[:2]
    response = client.get(CHANGELIST, {"departement": "75"})
    assertContains(response, "HOPITAL DE PARIS")
    assertNotContains(response, world.ej.name)
    response = client.get(CHANGELIST, {"departement": department})
    assertContains(response, world.ej.name)
    assertNotContains(response, "HOPITAL DE PARIS")
    response = client.get(CHANGELIST, {"state__exact": SelfEvaluationState.CLOTUREE})
    assertContains(response, world.ej.name)
    assertNotContains(response, "HOPITAL DE PARIS")


def test_the_list_of_another_region_is_empty_and_its_pages_are_404(client_for, world, other_region):
    foreigner = UserFactory(ars_staff=True, region=other_region)
    client = client_for(foreigner)
    assertNotContains(client.get(CHANGELIST), "CAQES TEST")
    assert client.get(overview_url(world)).status_code == 404
    assert client.get(question_url(world, "1.a")).status_code == 404
    response = post_decision(client, world, "1.a", Verdict.ATTEINT)
    assert response.status_code == 404
    assert not Decision.objects.exists()


def test_the_lists_queries_do_not_grow_with_rows_or_questions(client_for, world, region):
    client = client_for(world.ars)
    client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as few:
        assert client.get(CHANGELIST).status_code == 200
    for _ in range(4):
        World(EntiteJuridiqueFactory(region=region), extra=10)
    with CaptureQueriesContext(connection) as many:
        assert client.get(CHANGELIST).status_code == 200
    assert len(many) == len(few)


# --- « Évaluer » --------------------------------------------------------------------------------------


def test_the_overview_shows_who_evaluates_each_question_and_what_is_left(client_for, world):
    world.decide("1.a", EvaluatingBody.ARS, Verdict.ATTEINT)
    response = client_for(world.ars).get(overview_url(world))
    assertContains(response, "Questions décidées par l'instance ARS : <strong>1 sur 3</strong>", html=False)
    assertContains(response, "ARS, Assurance Maladie")  # 1.b
    assertContains(response, "<strong>À décider</strong>", html=True)
    assertContains(response, "Non évaluée par votre instance")  # 2.a, AM only
    assertContains(response, question_url(world, "1.b"))


def test_the_question_page_shows_the_answer_the_documents_and_the_form(client_for, world):
    value = world.values["1.b"]
    IndicatorValue.objects.filter(pk=value.pk).update(comment="Commentaire de l'établissement.")
    world.decide("1.b", EvaluatingBody.AM, Verdict.PARTIELLEMENT_ATTEINT, "Proche.", PRIVATE)
    response = client_for(world.ars).get(question_url(world, "1.b"))
    content = response.content.decode()
    assert "Évaluée par</th><td>ARS, Assurance Maladie" in content
    assertContains(response, f"Commentaire évalué {world.campaign.year}")
    assertContains(response, "Commentaire de l&#x27;établissement.")
    assert "Cible</th><td>80 %</td>" in content
    assertContains(response, "Aucun document.")
    assertContains(response, "Aucune année précédente.")
    # The other bodies' decisions, private notes included (agency staff only).
    assertContains(response, "Partiellement atteint")
    assertContains(response, PRIVATE)
    for label in ("Atteint", "Partiellement atteint", "Non atteint", "Non évaluable"):
        assertContains(response, f">{label}</label>")
    assert '<label for="id_motivation">Motivation (visible par l&#x27;établissement)\xa0:</label>' in content
    assertContains(response, "Note interne (jamais visible par l&#x27;établissement)")
    assertContains(response, 'value="Enregistrer la décision"')
    assertContains(response, "Décision de l'instance ARS")


def test_recording_a_decision_goes_on_to_the_next_question_to_decide(client_for, world):
    response = post_decision(client_for(world.ars), world, "1.a", Verdict.NON_ATTEINT, "Livret absent.", PRIVATE)
    assert response.status_code == 302
    assert response.url == question_url(world, "1.b")
    decision = Decision.objects.get()
    assert (decision.body, decision.verdict, decision.motivation, decision.private_note) == (
        EvaluatingBody.ARS,
        Verdict.NON_ATTEINT,
        "Livret absent.",
        PRIVATE,
    )
    assert SelfEvaluation.objects.get(pk=world.self_evaluation.pk).state == SelfEvaluationState.EN_EVALUATION
    follow = client_for(world.ars).get(response.url)
    assert follow.status_code == 200


def test_the_last_decision_returns_to_the_overview(client_for, world):
    client = client_for(world.am)
    post_decision(client, world, "1.b", Verdict.ATTEINT)
    response = post_decision(client, world, "2.a", Verdict.ATTEINT)
    assert response.url == overview_url(world)
    assertContains(client.get(response.url), "Toutes les questions de votre instance sont décidées.")


def test_a_missing_motivation_is_shown_on_the_field_and_the_text_kept(client_for, world):
    response = post_decision(client_for(world.ars), world, "1.a", Verdict.NON_ATTEINT, "", "Ma note à garder")
    assert response.status_code == 400
    assertContains(response, "La motivation est obligatoire, sauf pour « Atteint ».", status_code=400)
    assertContains(response, 'aria-describedby="id_motivation_error id_motivation_helptext"', status_code=400)
    assertContains(response, "Ma note à garder", status_code=400)
    assert not Decision.objects.exists()


def test_no_verdict_is_an_error_on_the_field(client_for, world):
    response = post_decision(client_for(world.ars), world, "1.a", "")
    assertContains(response, "Choisissez la décision.", status_code=400)
    assert not Decision.objects.exists()


def test_a_concurrent_decision_is_shown_and_nothing_overwritten(client_for, world):
    colleague = UserFactory(ars_staff=True, region=world.ej.region, first_name="Anne", last_name="MARTIN")
    post_decision(client_for(colleague), world, "1.a", Verdict.ATTEINT)
    response = post_decision(client_for(world.ars), world, "1.a", Verdict.NON_ATTEINT, "Mon texte gardé", version=0)
    assert response.status_code == 400
    assertContains(response, "Anne MARTIN a enregistré entre-temps la décision « Atteint »", status_code=400)
    assertContains(response, "Mon texte gardé", status_code=400)
    assert Decision.objects.get().verdict == Verdict.ATTEINT


def test_a_body_gets_no_form_on_a_question_it_does_not_evaluate_and_a_forged_post_is_refused(client_for, world):
    client = client_for(world.am)
    response = client.get(question_url(world, "1.a"))
    assertNotContains(response, "Enregistrer la décision")
    assertContains(
        response, "Consultation : cette question n&#x27;est pas évaluée par l&#x27;instance Assurance Maladie."
    )
    response = post_decision(client, world, "1.a", Verdict.ATTEINT)
    assert response.status_code == 302
    messages = [str(m) for m in client.get(response.url).context["messages"]]
    assert messages == ["Cette question n'est pas évaluée par l'instance Assurance Maladie."]
    assert not Decision.objects.exists()


def test_decisions_are_read_only_once_the_report_is_sent(client_for, world):
    world.decide("1.a", EvaluatingBody.ARS, Verdict.ATTEINT)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.CONTRADICTOIRE)
    client = client_for(world.ars)
    response = client.get(question_url(world, "1.a"))
    assertNotContains(response, "Enregistrer la décision")
    assertContains(response, "aucune décision ne s&#x27;enregistre à l&#x27;état « Période contradictoire »")
    post_decision(client, world, "1.a", Verdict.NON_ATTEINT, "Changement tardif.", version=1)
    assert Decision.objects.get().verdict == Verdict.ATTEINT


@pytest.mark.parametrize("page", ["overview", "question"])
def test_the_pages_queries_do_not_grow_with_the_number_of_questions(client_for, ej, other_ej, page):
    small, large = World(ej), World(other_ej, extra=27)
    for world in (small, large):
        SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.CLOTUREE)
        for code in list(world.values)[:3]:
            world.decide(code, EvaluatingBody.ARS, Verdict.ATTEINT)
    counts = []
    for world in (small, large):
        client = client_for(world.ars)
        url = overview_url(world) if page == "overview" else question_url(world, "1.b")
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- The demo world ------------------------------------------------------------------------------------


def test_in_the_demo_the_ars_and_the_am_decide_the_closed_contract(client_for):
    call_command("seed_demo", password="Demo-e-CARS-2026!", stdout=io.StringIO())
    contract = Contract.objects.get(name="CAQES CLINIQUE DU PARC")
    self_evaluation = SelfEvaluation.objects.get(contract=contract, state=SelfEvaluationState.CLOTUREE)
    ars, am = User.objects.get(email=ARS_USER_EMAIL), User.objects.get(email=AM_USER_EMAIL)
    values = {
        v.indicator.code: v
        for v in IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related("indicator")
    }
    ars_client, am_client = client_for(ars), client_for(am)
    assertContains(ars_client.get(CHANGELIST), "CAQES CLINIQUE DU PARC")
    url = reverse("admin:evaluation_evaluation_evaluate_question", args=[self_evaluation.pk, values["1.1.1.a"].pk])
    response = ars_client.post(url, {"verdict": Verdict.ATTEINT, "motivation": "", "private_note": "", "version": 0})
    assert response.status_code == 302
    url = reverse("admin:evaluation_evaluation_evaluate_question", args=[self_evaluation.pk, values["4.1.1.a"].pk])
    response = am_client.post(
        url, {"verdict": Verdict.NON_ATTEINT, "motivation": "Sous la cible.", "private_note": "", "version": 0}
    )
    assert response.status_code == 302
    assert sorted(Decision.objects.values_list("value__indicator__code", "body")) == [
        ("1.1.1.a", "ars"),
        ("4.1.1.a", "am"),
    ]
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.EN_EVALUATION
