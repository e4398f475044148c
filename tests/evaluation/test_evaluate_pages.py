"""The evaluators' pages: « Évaluations » (the list, its progress and filters) and « Évaluer » (the overview and
each question's page with the body's decision form), as the agents of each body see them."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import User
from contracts.finess import department_of
from contracts.models import Contract
from demo.world import AM_USER_EMAIL, ARS_USER_EMAIL
from documents.enums import ScanStatus
from evaluation.enums import EvaluatingBody, FilledBy, SelfEvaluationState, Verdict
from evaluation.models import Decision, IndicatorValue, IndicatorValueHistory, Node, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory
from tests.evaluation.factories import (
    AttachmentFactory,
    CampaignFactory,
    IndicatorValueFactory,
    NodeFactory,
    SelfEvaluationFactory,
)
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
    for column in ("Etablissement (EJ)", "Contrat", "Campagne", "Etat", "Clôturée le", "Progression"):
        assertContains(response, f">{column}</a>" if column != "Progression" else f">{column}</span>")
    assertContains(response, timezone.localtime(world.self_evaluation.closed_at).strftime("%d/%m/%Y"))
    assertContains(response, "1 / 2 décidées")  # 1.b decided; 1.b and 2.a are the AM's
    # Each row leads to « Évaluer », not to a change form.
    assertContains(response, f'href="{overview_url(world)}"')
    change = reverse("admin:evaluation_evaluation_change", args=[world.self_evaluation.pk])
    assertNotContains(response, f'href="{change}"')
    assertContains(client_for(world.ars).get(CHANGELIST), "0 / 3 décidées")  # 1.a, 1.b, 1.c
    assertContains(client_for(world.omedit).get(CHANGELIST), "0 / 1 décidées")  # 1.c


def test_national_administrators_see_the_consolidated_questions_of_every_region(client_for, world, other_region):
    elsewhere = World(EntiteJuridiqueFactory(region=other_region, name="CLINIQUE AILLEURS"))
    SelfEvaluation.objects.filter(pk=elsewhere.self_evaluation.pk).update(state=SelfEvaluationState.CLOTUREE)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.EN_EVALUATION)
    world.consolidate("1.a", Verdict.ATTEINT)
    response = client_for(UserFactory(national_admin=True)).get(CHANGELIST)
    assertContains(response, "1 / 4 consolidées")
    assertContains(response, "0 / 4 consolidées")
    assertContains(response, "CLINIQUE AILLEURS")


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
    response = client.get(CHANGELIST, {"etat": SelfEvaluationState.CLOTUREE})
    assertContains(response, world.ej.name)
    assertNotContains(response, "HOPITAL DE PARIS")
    response = client.get(CHANGELIST, {"etat": SelfEvaluationState.DEFINITIVE})
    assertNotContains(response, world.ej.name)
    assertContains(response, "HOPITAL DE PARIS")
    # The filters offer the evaluation's states only, and the departments of the region's contracts.
    filters = response.content.decode()
    for state in SelfEvaluationState.closed_states():
        assert f"?etat={state.value}" in filters
    for state in (SelfEvaluationState.PRE_CAMPAGNE, SelfEvaluationState.AUTO_EVALUATION):
        assert f"?etat={state.value}" not in filters
    assert "departement=75" in filters and f"departement={department}" in filters


@pytest.mark.parametrize(
    ("finess", "department"),
    [
        ("750712184", "75"),
        ("2A0000123", "2A"),
        ("970100228", "971"),  # CHU de Guadeloupe
        ("970421038", "974"),  # CHU de La Réunion
        ("976000014", "976"),
    ],
)
def test_the_department_is_read_from_the_finess(finess, department):
    assert department_of(finess) == department


def test_an_overseas_department_filter_keeps_its_own_contracts(client_for, region):
    guadeloupe = World(EntiteJuridiqueFactory(region=region, finess="970100228", name="CHU GUADELOUPE"))
    reunion = World(EntiteJuridiqueFactory(region=region, finess="970421038", name="CHU REUNION"))
    mayotte = World(EntiteJuridiqueFactory(region=region, finess="976000014", name="CH MAYOTTE"))
    for world in (guadeloupe, reunion, mayotte):
        SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.CLOTUREE)
    client = client_for(guadeloupe.ars)
    response = client.get(CHANGELIST, {"departement": "971"})
    assertContains(response, "CHU GUADELOUPE")
    assertNotContains(response, "CHU REUNION")
    assertNotContains(response, "CH MAYOTTE")
    for code in ("971", "974", "976"):
        assertContains(response, f"departement={code}")
    response = client.get(CHANGELIST, {"departement": "976"})
    assertContains(response, "CH MAYOTTE")
    assertNotContains(response, "CHU GUADELOUPE")


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


def test_the_overview_escapes_what_the_referential_and_the_establishment_wrote(client_for, world):
    """The overview's tables are built in Python (evaluate.py's _overview_html): every text is escaped."""
    value = world.values["1.a"]
    Node.objects.filter(pk=value.indicator_id).update(label='Livret <script>alert("x")</script>')
    response = client_for(world.ars).get(overview_url(world))
    assertNotContains(response, "<script>alert")
    assertContains(response, "Livret &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")


def test_national_administrators_read_the_overview_without_a_body_column(client_for, world):
    world.decide("1.a", EvaluatingBody.ARS, Verdict.NON_ATTEINT, "Livret absent.", PRIVATE)
    response = client_for(UserFactory(national_admin=True)).get(overview_url(world))
    assertContains(response, "ARS : Non atteint")
    assertNotContains(response, '<th scope="col">Votre instance</th>')
    assertNotContains(response, "À décider")
    assertNotContains(response, PRIVATE)  # the overview shows verdicts only


def test_a_question_of_another_contract_is_not_found_here(client_for, world, other_ej):
    other = World(other_ej)
    url = reverse(
        "admin:evaluation_evaluation_evaluate_question", args=[world.self_evaluation.pk, other.values["1.a"].pk]
    )
    client = client_for(world.ars)
    assert client.get(url).status_code == 404
    response = client.post(url, {"verdict": Verdict.ATTEINT, "motivation": "", "private_note": "", "version": 0})
    assert response.status_code == 404
    assert not Decision.objects.exists()


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
    client = client_for(world.ars)
    response = post_decision(client, world, "1.a", Verdict.NON_ATTEINT, "Livret absent.", PRIVATE)
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
    follow = client.get(response.url)
    assert follow.status_code == 200
    assert [str(m) for m in follow.context["messages"]] == ["1.a : décision enregistrée."]
    # Back on 1.a, the form shows the body's decision, at its version.
    page = client.get(question_url(world, "1.a"))
    assertContains(page, "Livret absent.")
    assertContains(page, '<input type="hidden" name="version" value="1" id="id_version">', html=True)


def test_the_last_decision_returns_to_the_overview(client_for, world):
    client = client_for(world.am)
    response = post_decision(client, world, "1.b", Verdict.ATTEINT)
    assert response.url == question_url(world, "2.a")
    client.get(response.url)  # the message read
    response = post_decision(client, world, "2.a", Verdict.ATTEINT)
    assert response.url == overview_url(world)
    page = client.get(response.url)
    assert [str(m) for m in page.context["messages"]] == [
        "2.a : décision enregistrée.",
        "Toutes les questions de votre instance sont décidées.",
    ]
    assertContains(page, "Questions décidées par l'instance Assurance Maladie : <strong>2 sur 2</strong>")


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
    assertContains(response, 'id="id_verdict_error"', status_code=400)
    assertContains(response, 'aria-describedby="id_verdict_error"', status_code=400)
    assert not Decision.objects.exists()


def test_an_unknown_verdict_is_an_error_on_the_field(client_for, world):
    response = post_decision(client_for(world.ars), world, "1.a", "excellent", "Très bien.", PRIVATE)
    assertContains(response, "Choisissez une décision proposée.", status_code=400)
    assertContains(response, "Très bien.", status_code=400)
    assert not Decision.objects.exists()
    assert SelfEvaluation.objects.get(pk=world.self_evaluation.pk).state == SelfEvaluationState.CLOTUREE


def test_a_concurrent_decision_is_shown_and_nothing_overwritten(client_for, world):
    colleague = UserFactory(ars_staff=True, region=world.ej.region, first_name="Anne", last_name="MARTIN")
    post_decision(client_for(colleague), world, "1.a", Verdict.ATTEINT)
    response = post_decision(client_for(world.ars), world, "1.a", Verdict.NON_ATTEINT, "Mon texte gardé", version=0)
    assert response.status_code == 400
    assertContains(response, "Anne MARTIN a enregistré entre-temps la décision « Atteint »", status_code=400)
    assertContains(response, "Mon texte gardé", status_code=400)
    assert Decision.objects.get().verdict == Verdict.ATTEINT
    # The colleague's decision is on the page, and the kept form now stands on it: saving again replaces it.
    assertContains(response, "Anne MARTIN,", status_code=400)
    assertContains(
        response, '<input type="hidden" name="version" value="1" id="id_version">', html=True, status_code=400
    )
    response = post_decision(client_for(world.ars), world, "1.a", Verdict.NON_ATTEINT, "Mon texte gardé", version=1)
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.verdict, decision.motivation, decision.version) == (Verdict.NON_ATTEINT, "Mon texte gardé", 2)


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


@pytest.mark.parametrize(
    "state",
    [
        SelfEvaluationState.AUTO_EVALUATION,
        SelfEvaluationState.RAPPORT_ENVOYE,
        SelfEvaluationState.CONTRADICTOIRE,
        SelfEvaluationState.DEFINITIVE,
    ],
)
def test_decisions_are_read_only_before_the_closure_and_once_the_report_is_sent(client_for, world, state):
    world.decide("1.a", EvaluatingBody.ARS, Verdict.ATTEINT)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=state)
    client = client_for(world.ars)
    label = SelfEvaluationState(state).label
    if state == SelfEvaluationState.AUTO_EVALUATION:
        # Not listed, nor reached through « Évaluations » before the closure.
        assert client.get(question_url(world, "1.a")).status_code == 404
        assert post_decision(client, world, "1.a", Verdict.NON_ATTEINT, "Trop tôt.", version=1).status_code == 404
    else:
        response = client.get(question_url(world, "1.a"))
        assertNotContains(response, "Enregistrer la décision")
        assertContains(response, f"aucune décision ne s&#x27;enregistre à l&#x27;état « {label} »")
        response = post_decision(client, world, "1.a", Verdict.NON_ATTEINT, "Changement tardif.", version=1)
        assert response.status_code == 302
        messages = [str(m) for m in client.get(response.url).context["messages"]]
        assert messages == [
            f"Aucune décision ne peut être enregistrée à l'état « {label} » : les décisions se prennent une fois "
            "la saisie close, jusqu'à l'envoi du rapport."
        ]
    decision = Decision.objects.get()
    assert (decision.verdict, decision.version) == (Verdict.ATTEINT, 1)


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


def test_the_pages_have_the_admins_breadcrumbs_with_the_contract(client_for, world):
    client = client_for(world.ars)
    response = client.get(overview_url(world))
    crumbs = response.content.decode().split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert [part.strip() for part in strip_tags(crumbs).split("&rsaquo;")] == [
        "Accueil",
        "Évaluation",
        "Évaluations",
        "CAQES TEST",
        "Évaluer",
    ]
    response = client.get(question_url(world, "1.a"))
    crumbs = response.content.decode().split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert [part.strip() for part in strip_tags(crumbs).split("&rsaquo;")][-3:] == ["CAQES TEST", "Évaluer", "1.a"]
    assert f'href="{overview_url(world)}"' in crumbs


# --- The documents and the earlier years of a question --------------------------------------------------


def test_the_question_page_lists_the_documents_and_the_regions_agents_download_them(client_for, world, other_region):
    value = world.values["1.b"]
    clean = AttachmentFactory(
        indicator_value=value,
        document__ej=world.ej,
        document__original_name="Livret 2025.pdf",
        document__content=b"%PDF-1.4\n" + b"0" * 1_300_000,
        document__scan_status=ScanStatus.SAIN,
    ).document
    infected = AttachmentFactory(
        indicator_value=value,
        document__ej=world.ej,
        document__original_name="Tableau.xlsm",
        document__has_macros=True,
        document__scan_status=ScanStatus.INFECTE,
    ).document
    response = client_for(world.am).get(question_url(world, "1.b"))
    download = reverse("documents:download", args=[clean.public_id])
    assertContains(response, f'<a href="{download}" download>Livret 2025.pdf</a>', html=True)
    assertContains(response, "1,3 Mo")
    assertContains(response, "<td>sain</td>", html=True)
    assertContains(response, "Tableau.xlsm — <strong>contient des macros</strong>")
    assertContains(response, "infecté (non téléchargeable)")
    assertNotContains(response, reverse("documents:download", args=[infected.public_id]))
    for agent in (world.ars, world.am, world.omedit):
        got = client_for(agent).get(download)
        assert got.status_code == 200
        assert b"".join(got.streaming_content).startswith(b"%PDF-1.4")
    assert client_for(world.am).get(reverse("documents:download", args=[infected.public_id])).status_code == 423
    foreigner = UserFactory(am_staff=True, region=other_region)
    assert client_for(foreigner).get(download).status_code == 404


def test_the_question_page_shows_the_earlier_years(client_for, world):
    earlier_campaign = CampaignFactory(
        contract_type=world.contract.contract_type, regions=[world.ej.region], year=world.campaign.year - 1
    )
    earlier = SelfEvaluationFactory(
        contract=world.contract,
        campaign=earlier_campaign,
        state=SelfEvaluationState.DEFINITIVE,
        closed_at=timezone.now(),
    )
    node = NodeFactory(referential=earlier_campaign.referential, code="1.b", label="Taux", taux=True)
    IndicatorValueFactory(self_evaluation=earlier, indicator=node, value="61", comment="Année de transition.")
    response = client_for(world.ars).get(question_url(world, "1.b"))
    assertContains(response, f'<th scope="row">{world.campaign.year - 1}</th>', html=True)
    assertContains(response, "61 %")
    assertContains(response, "Année de transition.")
    assertNotContains(response, "Aucune année précédente.")


# --- The questions « renseignées par » a body ----------------------------------------------------------


@pytest.fixture
def filled_by_am(world):
    node = NodeFactory(
        referential=world.campaign.referential,
        parent=world.values["2.a"].indicator.parent,
        code="2.b",
        label="Dépenses de biosimilaires",
        nombre=True,
        filled_by=FilledBy.AM,
        evaluated_by_ars=False,
        evaluated_by_am=True,
    )
    return IndicatorValueFactory(self_evaluation=world.self_evaluation, indicator=node, value="")


def answer_data(version=1, **changes):
    data = {
        "reponse-value": "1250",
        "reponse-not_applicable": "",
        "reponse-not_applicable_reason": "",
        "reponse-comment": "Chiffres SNDS.",
        "reponse-version": version,
    }
    return {**data, **{f"reponse-{k}": v for k, v in changes.items()}}


def filled_url(world, value):
    return reverse("admin:evaluation_evaluation_evaluate_question", args=[world.self_evaluation.pk, value.pk])


def test_the_body_that_fills_a_question_answers_it_on_its_page(client_for, world, filled_by_am):
    client = client_for(world.am)
    response = client.get(filled_url(world, filled_by_am))
    assertContains(response, "Réponse (Assurance Maladie)")
    assertContains(response, "Réponse de l'instance Assurance Maladie (question renseignée par votre instance)")
    year = world.campaign.year
    for name, label in (
        ("value", "Réalisé"),
        ("not_applicable", "Non concerné"),
        ("not_applicable_reason", "Justification de « Non concerné »"),
        ("comment", f"Commentaire évalué {year}"),
    ):
        assertContains(response, f'<label for="id_reponse-{name}">{label}\xa0:</label>', html=True)
    assertContains(response, 'value="Enregistrer la réponse"')
    assertContains(response, 'value="Enregistrer la décision"')  # the AM evaluates it too
    response = client.post(filled_url(world, filled_by_am), answer_data())
    assert response.status_code == 302 and response.url == filled_url(world, filled_by_am)
    assert [str(m) for m in client.get(response.url).context["messages"]] == ["2.b : réponse enregistrée."]
    filled_by_am.refresh_from_db()
    assert (filled_by_am.value, filled_by_am.comment, filled_by_am.version) == ("1250", "Chiffres SNDS.", 2)
    history = IndicatorValueHistory.objects.get(indicator_value=filled_by_am)
    assert history.changed_by == world.am and history.changes["value"] == ["", "1250"]


def test_an_invalid_answer_of_the_body_is_shown_on_its_field_and_nothing_stored(client_for, world, filled_by_am):
    response = client_for(world.am).post(filled_url(world, filled_by_am), answer_data(value="beaucoup"))
    assert response.status_code == 400
    assertContains(response, 'id="id_reponse-value_error"', status_code=400)
    assertContains(response, 'aria-describedby="id_reponse-value_error"', status_code=400)
    assertContains(response, "beaucoup", status_code=400)
    response = client_for(world.am).post(
        filled_url(world, filled_by_am), answer_data(value="", not_applicable="on", not_applicable_reason="")
    )
    assertContains(response, "Justifiez « Non concerné »", status_code=400)
    filled_by_am.refresh_from_db()
    assert (filled_by_am.value, filled_by_am.version) == ("", 1)
    assert not IndicatorValueHistory.objects.exists()


def test_a_concurrent_answer_of_the_body_is_a_conflict_and_the_text_kept(client_for, world, filled_by_am):
    colleague = UserFactory(am_staff=True, region=world.ej.region, first_name="Luc", last_name="PETIT")
    client_for(colleague).post(filled_url(world, filled_by_am), answer_data(value="900"))
    response = client_for(world.am).post(filled_url(world, filled_by_am), answer_data(comment="Mon commentaire"))
    assertContains(response, "la réponse a été modifiée entre-temps par Luc PETIT", status_code=400)
    assertContains(response, "Mon commentaire", status_code=400)
    filled_by_am.refresh_from_db()
    assert (filled_by_am.value, filled_by_am.version) == ("900", 2)
    assertContains(
        response,
        '<input type="hidden" name="reponse-version" value="2" id="id_reponse-version">',
        html=True,
        status_code=400,
    )


@pytest.mark.parametrize("who", ["ars", "omedit"])
def test_other_bodies_get_no_answer_form_and_a_forged_answer_is_refused(client_for, world, filled_by_am, who):
    client = client_for(getattr(world, who))
    response = client.get(filled_url(world, filled_by_am))
    assertNotContains(response, "Enregistrer la réponse")
    response = client.post(filled_url(world, filled_by_am), answer_data())
    assert response.status_code == 302
    body = {"ars": "ARS", "omedit": "OMEDIT"}[who]
    assert [str(m) for m in client.get(response.url).context["messages"]] == [
        f"Cette question n'est pas renseignée par l'instance {body}."
    ]
    filled_by_am.refresh_from_db()
    assert (filled_by_am.value, filled_by_am.version) == ("", 1)
    assert not IndicatorValueHistory.objects.exists()


def test_no_agent_answers_an_establishment_question(client_for, world):
    value = world.values["1.a"]
    response = client_for(world.ars).post(question_url(world, "1.a"), answer_data(value="0"))
    assert response.status_code == 302
    value.refresh_from_db()
    assert (value.value, value.version) == ("1", 1)


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
    # The AM does not decide the ARS's 1.1.1.a, nor the OMEDIT's 3.1.1.a.
    for code in ("1.1.1.a", "3.1.1.a"):
        url = reverse("admin:evaluation_evaluation_evaluate_question", args=[self_evaluation.pk, values[code].pk])
        assertNotContains(am_client.get(url), "Enregistrer la décision")
        response = am_client.post(
            url, {"verdict": Verdict.ATTEINT, "motivation": "", "private_note": "", "version": 0}
        )
        assert response.status_code == 302 and response.url == url
    assert sorted(Decision.objects.values_list("value__indicator__code", "body")) == [
        ("1.1.1.a", "ars"),
        ("4.1.1.a", "am"),
    ]
    am_questions = sum(1 for value in values.values() if value.indicator.evaluated_by_am)
    assert am_questions >= 2  # 4.1.1.a and 4.1.1.b
    assertContains(am_client.get(CHANGELIST), f"1 / {am_questions} décidées")
    self_evaluation.refresh_from_db()
    assert self_evaluation.state == SelfEvaluationState.EN_EVALUATION
