"""The période contradictoire as the pages show it: on the question page « Évaluation <année> » (once a report is
sent), « Contester » and the observation form, the answers; « Années précédentes »; the contract page's block and
« Envoyer mes observations »; the evaluators' admin page « Période contradictoire » (region scoping, answers, a new
round, constant query count). Private notes never reach an establishment page."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from contracts.enums import MembershipRole
from documents.models import Document
from evaluation import contradictory, reports
from evaluation.display import question_url
from evaluation.enums import ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import Consolidation, Observation, ObservationDocument, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.contracts.factories import MembershipFactory
from tests.documents import conftest as documents_conftest
from tests.documents.corpus import portable_executable, sample
from tests.evaluation.factories import CampaignFactory, IndicatorValueFactory, SelfEvaluationFactory
from tests.evaluation.test_consolidation import PRIVATE, World
from tests.evaluation.test_contradictory import Contradictory


storage_dir = documents_conftest.storage_dir
PDF = sample("valid.pdf")


@pytest.fixture
def world(ej):
    return Contradictory(ej)


def page(world, code):
    value = world.values[code]
    value.self_evaluation = world.self_evaluation
    return question_url(value, anchor="evaluation").split("#")[0]


def contract_url(world):
    return reverse("contracts:contract_detail", args=[world.contract.public_id])


def admin_url(world):
    return reverse("admin:evaluation_evaluation_contradictory", args=[world.self_evaluation.pk])


def set_deadline(world, days):
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(
        contradictory_deadline=timezone.localdate() + datetime.timedelta(days=days)
    )


# --- The question page -----------------------------------------------------------------------------------


def test_no_evaluation_block_before_the_report_is_sent(client_for, ej):
    world = World(ej)
    member = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    world.consolidate("1.a", Verdict.NON_ATTEINT, "Motivation visible.", PRIVATE)
    response = client_for(member).get(page(world, "1.a"))
    assert response.status_code == 200
    assertNotContains(response, f"Évaluation {world.campaign.year}")
    assertNotContains(response, "Motivation visible.")
    assertNotContains(response, PRIVATE)


def test_the_question_shows_the_consolidated_decision_and_contester_only_when_allowed(client_for, world):
    year = world.campaign.year
    client = client_for(world.contributeur)
    response = client.get(page(world, "1.a"))
    assertContains(response, f'<h3 class="fr-h6" id="evaluation-titre">Évaluation {year}</h3>', html=False)
    assertContains(response, "<strong>Non atteint</strong>")
    assertContains(response, "Motivation 1.a.")
    assertContains(response, "Contester")
    assertContains(response, '<label class="fr-label" for="observation-texte">Observations')
    assertContains(response, "Enregistrer l'observation")
    assertNotContains(response, PRIVATE)

    atteint = client.get(page(world, "1.b"))
    assertContains(atteint, "<strong>Atteint</strong>")
    assertNotContains(atteint, "Contester")
    assertNotContains(client_for(world.lecteur).get(page(world, "1.a")), "Contester")

    set_deadline(world, -1)
    late = client.get(page(world, "1.a"))
    assertContains(late, f"Évaluation {year}")
    assertNotContains(late, "Contester")


def test_the_form_saves_a_draft_and_refuses_an_empty_text(client_for, world):
    client = client_for(world.contributeur)
    url = page(world, "1.a")
    empty = client.post(url, {"observation": "1", "text": "   ", "version": "0"})
    assertContains(empty, "Rédigez vos observations.", status_code=400)
    assertContains(empty, 'aria-describedby="observation-erreurs"', status_code=400)
    assert not Observation.objects.exists()

    typed = {"observation": "1", "text": "Le bilan annuel le montre.", "version": "0"}
    response = client.post(url, typed, follow=True)
    assertContains(response, "Observation enregistrée")
    assertContains(response, "Le bilan annuel le montre.")
    assertContains(response, "Brouillon enregistré, pas encore envoyé")
    observation = Observation.objects.get()
    assert (observation.status, observation.written_by, observation.version) == (
        ObservationStatus.BROUILLON,
        world.contributeur,
        1,
    )


@pytest.mark.parametrize("case", ["atteint", "lecteur", "deadline"])
def test_the_server_refuses_direct_posts(client_for, world, case):
    user, code = world.contributeur, "1.a"
    if case == "atteint":
        code = "1.b"
    elif case == "lecteur":
        user = world.lecteur
    else:
        set_deadline(world, -1)
    response = client_for(user).post(page(world, code), {"observation": "1", "text": "Contestation.", "version": "0"})
    assert response.status_code == 400
    message = {
        "atteint": "il n&#x27;y a rien à contester",
        "lecteur": "Votre rôle ne permet pas",
        "deadline": "La période contradictoire est close depuis le",
    }[case]
    assertContains(response, message, status_code=400)
    assert not Observation.objects.exists()


def test_documents_go_with_the_observation_the_usual_way(client_for, world, storage_dir):
    client = client_for(world.contributeur)
    url = page(world, "1.a")
    response = client.post(
        url,
        {
            "observation": "1",
            "text": "Voir le bilan.",
            "version": "0",
            "documents": [SimpleUploadedFile("Bilan.pdf", PDF)],
        },
        follow=True,
    )
    assertContains(response, "« Bilan.pdf » a été ajouté à l&#x27;observation.")
    document = ObservationDocument.objects.get().document
    assertContains(response, reverse("documents:download", args=[document.public_id]))
    stored = {path.name for path in storage_dir.rglob("*") if path.is_file()}

    refused = client.post(
        url,
        {
            "observation": "1",
            "text": "Voir le bilan.",
            "version": "1",
            "documents": [SimpleUploadedFile("outil.exe", portable_executable())],
        },
        follow=True,
    )
    assertContains(refused, "outil.exe")
    assertContains(refused, "fr-alert--error")
    assert Document.objects.count() == 1 and ObservationDocument.objects.count() == 1
    assert {path.name for path in storage_dir.rglob("*") if path.is_file()} == stored


def test_the_answer_is_shown_to_the_establishment(client_for, world):
    observation = world.observe("1.a", "Contestation de 1.a.")
    world.observe("1.c", "Contestation de 1.c.")
    world.send()
    world.answer(observation, Verdict.PARTIELLEMENT_ATTEINT, "Revue au vu du bilan.", "Bilan reçu, décision revue.")
    world.answer(Observation.objects.get(value=world.values["1.c"]), text="Pas d'élément nouveau.")
    client = client_for(world.signataire)
    revised = client.get(page(world, "1.a"))
    assertContains(revised, "Réponse à l'observation")
    assertContains(revised, "Bilan reçu, décision revue.")
    assertContains(revised, "<strong>Partiellement atteint</strong>")
    assertContains(revised, "Revue au vu du bilan.")
    assertNotContains(revised, "Contester")  # the round's observations are sent
    maintained = client.get(page(world, "1.c"))
    assertContains(maintained, "Décision maintenue")
    for response in (revised, maintained):
        assertNotContains(response, PRIVATE)


def test_earlier_years_show_the_evaluation_once_its_report_was_sent(client_for, world):
    world.observe("1.a")
    world.send()
    world.answer(Observation.objects.get())
    reports.send_final_report(world.self_evaluation, acting_user=world.ars)
    campaign = CampaignFactory(
        contract_type=world.contract.contract_type,
        regions=[world.ej.region],
        referential=world.campaign.referential,
        year=world.campaign.year + 1,
    )
    next_year = SelfEvaluationFactory(contract=world.contract, campaign=campaign)
    value = IndicatorValueFactory(self_evaluation=next_year, indicator=world.values["1.a"].indicator)
    value.self_evaluation = next_year
    response = client_for(world.contributeur).get(question_url(value).split("#")[0])
    assertContains(response, "Années précédentes")
    assertContains(response, f"<dt>Évaluation {world.campaign.year}</dt><dd>Non atteint — Motivation 1.a.</dd>")
    assertNotContains(response, PRIVATE)


def test_earlier_years_hide_an_evaluation_whose_report_was_not_sent(client_for, ej):
    world = World(ej)
    member = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    world.consolidate("1.a", Verdict.NON_ATTEINT, "Motivation pas encore envoyée.", PRIVATE)
    campaign = CampaignFactory(
        contract_type=world.contract.contract_type,
        regions=[ej.region],
        referential=world.campaign.referential,
        year=world.campaign.year + 1,
    )
    value = IndicatorValueFactory(
        self_evaluation=SelfEvaluationFactory(contract=world.contract, campaign=campaign),
        indicator=world.values["1.a"].indicator,
    )
    response = client_for(member).get(question_url(value).split("#")[0])
    assertContains(response, "Années précédentes")
    assertNotContains(response, "Motivation pas encore envoyée.")
    assertNotContains(response, f"Évaluation {world.campaign.year}")


# --- The contract page ---------------------------------------------------------------------------------


def test_the_contract_page_block_and_envoyer_mes_observations(client_for, world):
    heading = f"Période contradictoire n° 1 — observations jusqu'au {world.deadline:%d/%m/%Y}"
    signataire = client_for(world.signataire)
    response = signataire.get(contract_url(world))
    assertContains(response, heading)
    assertNotContains(response, "Envoyer mes observations")  # nothing drafted yet
    world.observe("1.a")
    world.observe("1.c")
    assertNotContains(client_for(world.contributeur).get(contract_url(world)), "Envoyer mes observations</button>")
    response = signataire.get(contract_url(world))
    assertContains(response, "Envoyer mes observations</button>")
    assertContains(response, "<strong>2</strong>")
    assertNotContains(response, PRIVATE)

    send_url = reverse("evaluation:send_observations", args=[world.self_evaluation.public_id])
    refused = client_for(world.contributeur).post(send_url, follow=True)
    assertContains(refused, "Seuls les signataires de l&#x27;établissement envoient les observations.")
    assert not Observation.objects.filter(status=ObservationStatus.ENVOYEE).exists()

    sent = signataire.post(send_url, follow=True)
    assertContains(sent, "Vos 2 observations ont été envoyées.")
    assert Observation.objects.filter(status=ObservationStatus.ENVOYEE).count() == 2
    assertNotContains(sent, "Envoyer mes observations</button>")

    again = signataire.post(send_url, follow=True)
    assertContains(again, "ont déjà été envoyées")


def test_sending_after_the_deadline_is_refused_and_not_offered(client_for, world):
    world.observe("1.a")
    set_deadline(world, -1)
    client = client_for(world.signataire)
    assertNotContains(client.get(contract_url(world)), "Envoyer mes observations</button>")
    send_url = reverse("evaluation:send_observations", args=[world.self_evaluation.public_id])
    response = client.post(send_url, follow=True)
    assertContains(response, "La période contradictoire est close depuis le")
    assert Observation.objects.get().status == ObservationStatus.BROUILLON


# --- The evaluators' page ------------------------------------------------------------------------------


def test_agents_of_another_region_get_404(client_for, world, other_region):
    for factory_flag in ("ars_staff", "am_staff", "omedit_staff"):
        agent = UserFactory(**{factory_flag: True}, region=other_region)
        assert client_for(agent).get(admin_url(world)).status_code == 404
    world.observe("1.a")
    world.send()
    observation = Observation.objects.get()
    outsider = UserFactory(ars_staff=True, region=other_region)
    url = reverse("admin:evaluation_evaluation_answer_observation", args=[world.self_evaluation.pk, observation.pk])
    response = client_for(outsider).post(url, {f"o{observation.pk}-answer": "x", f"o{observation.pk}-version": "2"})
    assert response.status_code == 404
    assert Observation.objects.get().answered_at is None


def test_the_ars_reads_and_answers_an_observation(client_for, world, storage_dir):
    observation = world.observe("1.a", "Le bilan joint montre la cible atteinte.")
    document = contradictory.add_observation_document(
        observation, SimpleUploadedFile("Bilan.pdf", PDF), acting_user=world.contributeur
    )
    world.send()
    client = client_for(world.ars)
    response = client.get(admin_url(world))
    assertContains(response, "Le bilan joint montre la cible atteinte.")
    assertContains(response, "Bilan.pdf")
    assertContains(response, "analyse antivirus")
    assertContains(response, reverse("admin:evaluation_evaluation_consolidate", args=[world.self_evaluation.pk]))
    assertContains(response, "Réponse à l&#x27;observation")
    assertContains(response, '<option value="" selected>Décision maintenue</option>')
    assertContains(response, "Motivation (visible par l&#x27;établissement)")
    assertContains(response, 'value="Enregistrer la réponse"')
    assertNotContains(response, "Ouvrir une nouvelle période contradictoire")  # an answer is awaited
    download = reverse("documents:download", args=[document.public_id])
    assertContains(response, download)
    for reader in (client, client_for(world.signataire)):
        fetched = reader.get(download)
        assert fetched.status_code == 200
        assert b"".join(fetched.streaming_content) == PDF

    observation.refresh_from_db()
    url = reverse("admin:evaluation_evaluation_answer_observation", args=[world.self_evaluation.pk, observation.pk])
    prefix = f"o{observation.pk}"
    missing = client.post(
        url,
        {
            f"{prefix}-answer": "Revue.",
            f"{prefix}-revised_verdict": Verdict.NON_ATTEINT,
            f"{prefix}-version": str(observation.version),
        },
    )
    assertContains(missing, "La motivation est obligatoire, sauf pour « Atteint ».", status_code=400)
    assertContains(missing, f'aria-describedby="id_{prefix}-motivation_error', status_code=400)
    assert Observation.objects.get().answered_at is None

    done = client.post(
        url,
        {
            f"{prefix}-answer": "Bilan probant.",
            f"{prefix}-revised_verdict": Verdict.ATTEINT,
            f"{prefix}-motivation": "",
            f"{prefix}-version": str(observation.version),
        },
        follow=True,
    )
    assertContains(done, "1.a : réponse enregistrée.")
    assert Consolidation.objects.get(value=world.values["1.a"]).verdict == Verdict.ATTEINT
    assertNotContains(done, 'value="Enregistrer la réponse"')  # final once recorded
    # Nothing still contested: no new round offered.
    assertNotContains(done, "Ouvrir une nouvelle période contradictoire")


def test_the_am_reads_but_does_not_answer(client_for, world):
    world.observe("1.a")
    world.send()
    response = client_for(world.am).get(admin_url(world))
    assert response.status_code == 200
    assertNotContains(response, 'value="Enregistrer la réponse"')


def test_the_ars_opens_a_new_round_from_the_page(client_for, world, django_capture_on_commit_callbacks):
    world.observe("1.a")
    world.send()
    world.answer(Observation.objects.get())
    client = client_for(world.ars)
    response = client.get(admin_url(world))
    assertContains(response, 'value="Ouvrir une nouvelle période contradictoire"')
    url = reverse("admin:evaluation_evaluation_next_round", args=[world.self_evaluation.pk])
    past = client.post(url, {"deadline": f"{timezone.localdate():%Y-%m-%d}"})
    assertContains(past, "postérieure à aujourd&#x27;hui", status_code=400)
    assertContains(past, 'aria-describedby="id_deadline_error"', status_code=400)
    assert SelfEvaluation.objects.get(pk=world.self_evaluation.pk).contradictory_round == 1
    deadline = timezone.localdate() + datetime.timedelta(days=10)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"deadline": f"{deadline:%Y-%m-%d}"}, follow=True)
    assertContains(done, f"Période contradictoire n° 2 ouverte jusqu&#x27;au {deadline:%d/%m/%Y}")
    self_evaluation = SelfEvaluation.objects.get(pk=world.self_evaluation.pk)
    assert (self_evaluation.state, self_evaluation.contradictory_round) == (SelfEvaluationState.CONTRADICTOIRE, 2)
    # Round 2: 1.a (contested in round 1) may be contested again, 1.c not.
    contributeur = client_for(world.contributeur)
    assertContains(contributeur.get(page(world, "1.a")), "Contester")
    assertNotContains(contributeur.get(page(world, "1.c")), "Contester")


def _sent_observations(world, codes):
    world.self_evaluation.refresh_from_db()
    contradictory_round = contradictory.current_round(world.self_evaluation)
    now = timezone.now()
    for code in codes:
        Observation.objects.create(
            round=contradictory_round,
            value=world.values[code],
            text=f"Observation {code}",
            status=ObservationStatus.ENVOYEE,
            sent_at=now,
            written_by=world.contributeur,
        )


def test_the_admin_page_query_count_does_not_grow_with_the_observations(client_for, ej):
    world = World(ej, extra=20)
    world.contributeur = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    world.consolidate_all()
    reports.send_report(world.self_evaluation, acting_user=world.ars)
    client = client_for(world.ars)
    extra_codes = [code for code in world.values if code.startswith("1.x")]
    _sent_observations(world, extra_codes[:2])
    client.get(admin_url(world))  # warm the caches (session, content types)
    with CaptureQueriesContext(connection) as two:
        response = client.get(admin_url(world))
    assertContains(response, "Observation 1.x001")
    _sent_observations(world, extra_codes[2:20])
    with CaptureQueriesContext(connection) as twenty:
        response = client.get(admin_url(world))
    assertContains(response, "Observation 1.x019")
    assert response.content.decode().count('value="Enregistrer la réponse"') == 20
    assert len(twenty.captured_queries) == len(two.captured_queries)


def test_an_observation_posted_before_the_report_is_refused(client_for, ej):
    world = World(ej)
    member = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    world.consolidate("1.a", Verdict.NON_ATTEINT, "Motivation.", PRIVATE)
    response = client_for(member).post(
        page(world, "1.a"), {"observation": "1", "text": "Contestation.", "version": "0"}, follow=True
    )
    assertContains(
        response, "Aucun rapport d&#x27;évaluation n&#x27;a été envoyé : il n&#x27;y a encore rien à contester."
    )
    assertNotContains(response, PRIVATE)
    assert not Observation.objects.exists()


def test_a_stale_draft_keeps_the_text_and_says_why(client_for, world):
    world.observe("1.a", "Texte du collègue.")
    response = client_for(world.signataire).post(
        page(world, "1.a"), {"observation": "1", "text": "Mon texte.", "version": "0"}
    )
    assertContains(response, "L&#x27;observation a été modifiée entre-temps par un collègue", status_code=400)
    assertContains(response, "Texte du collègue.", status_code=400)
    assertContains(response, ">Mon texte.</textarea>", status_code=400)
    assert Observation.objects.get().text == "Texte du collègue."


def test_establishment_users_never_reach_the_evaluators_page(client_for, world):
    world.observe("1.a", "Texte de l'observation.")
    world.send()
    for user in (world.signataire, world.contributeur):
        response = client_for(user).get(admin_url(world))
        assert response.status_code in (302, 403, 404)
        assertNotContains(response, "Texte de l", status_code=response.status_code)
    observation = Observation.objects.get()
    url = reverse("admin:evaluation_evaluation_answer_observation", args=[world.self_evaluation.pk, observation.pk])
    response = client_for(world.signataire).post(
        url, {f"o{observation.pk}-answer": "Auto-réponse.", f"o{observation.pk}-version": str(observation.version)}
    )
    assert response.status_code in (302, 403, 404)
    assert Observation.objects.get().answered_at is None


def test_the_am_cannot_answer_by_a_direct_post(client_for, world):
    world.observe("1.a")
    world.send()
    observation = Observation.objects.get()
    url = reverse("admin:evaluation_evaluation_answer_observation", args=[world.self_evaluation.pk, observation.pk])
    response = client_for(world.am).post(
        url,
        {f"o{observation.pk}-answer": "Réponse AM.", f"o{observation.pk}-version": str(observation.version)},
        follow=True,
    )
    assertContains(response, "Seuls les agents ARS de la région de l&#x27;établissement répondent aux observations.")
    assert Observation.objects.get().answered_at is None
    next_round = reverse("admin:evaluation_evaluation_next_round", args=[world.self_evaluation.pk])
    deadline = timezone.localdate() + datetime.timedelta(days=10)
    response = client_for(world.am).post(next_round, {"deadline": f"{deadline:%Y-%m-%d}"}, follow=True)
    assertContains(response, "Seuls les agents ARS")
    assert SelfEvaluation.objects.get(pk=world.self_evaluation.pk).contradictory_round == 1


def test_the_question_page_query_count_does_not_grow_with_the_questions(client_for, ej, other_ej):
    counts = []
    for its_ej, more in ((ej, 3), (other_ej, 30)):
        world = World(its_ej, extra=more)
        contributeur = MembershipFactory(ej=its_ej, role=MembershipRole.CONTRIBUTEUR).user
        world.consolidate_all()
        reports.send_report(world.self_evaluation, acting_user=world.ars)
        world.self_evaluation.refresh_from_db()
        contradictory.save_observation(
            world.values["1.a"], acting_user=contributeur, text="Brouillon.", expected_version=0
        )
        client = client_for(contributeur)
        client.get(page(world, "1.a"))  # warm the caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page(world, "1.a"))
        assertContains(response, f"Évaluation {world.campaign.year}")
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]
