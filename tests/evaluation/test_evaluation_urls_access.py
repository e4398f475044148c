"""Who reaches the evaluators' pages, generated over the URLs of « Évaluations » (EvaluationAdmin.get_urls), so
that every page added there is covered at once: anonymous visitors and establishment members are sent to the
login, agents of another region get 404 whatever their body, the region's agents reach them.

(TOTP on every one of these pages is covered with every other route by tests/accounts/test_staff_totp.py.)
"""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from evaluation.enums import EvaluatingBody, ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import ContradictoryRound, Decision, Evaluation, Observation, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.conftest import Client
from tests.evaluation.test_consolidation import World
from tests.evaluation.test_reports import SentReportFactory


OWN = {"changelist", "add", "change", "delete", "history", "autocomplete"}


def evaluation_pages():
    """The pages made for the evaluators' work: (URL name, its pattern's keyword arguments)."""
    model_admin = admin.site._registry[Evaluation]
    pages = []
    for pattern in model_admin.get_urls():
        name = pattern.name or ""
        if not name.startswith("evaluation_evaluation_") or name.removeprefix("evaluation_evaluation_") in OWN:
            continue
        pages.append((name, tuple(pattern.pattern.regex.groupindex)))
    return pages


PAGES = evaluation_pages()


def test_the_pages_are_found():
    names = {name for name, _ in PAGES}
    assert {
        "evaluation_evaluation_evaluate",
        "evaluation_evaluation_evaluate_question",
        "evaluation_evaluation_consolidate",
        "evaluation_evaluation_report_download",
    } <= names


@pytest.fixture
def world(ej):
    """A self-evaluation in its période contradictoire: a decision, a consolidation, a sent report and a sent
    observation, so that every page has its objects."""
    world = World(ej)
    world.decide("1.a", EvaluatingBody.ARS, Verdict.NON_ATTEINT, "Livret absent.")
    world.consolidate("1.a", Verdict.NON_ATTEINT, "Livret absent.")
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(
        state=SelfEvaluationState.CONTRADICTOIRE,
        contradictory_round=1,
        contradictory_deadline=timezone.localdate() + timezone.timedelta(days=10),
    )
    world.report = SentReportFactory(self_evaluation=world.self_evaluation, generated_by=world.ars)
    round_ = ContradictoryRound.objects.create(
        self_evaluation=world.self_evaluation,
        number=1,
        deadline=timezone.localdate() + timezone.timedelta(days=10),
        opened_by=world.ars,
        opened_at=timezone.now(),
    )
    world.observation = Observation.objects.create(
        round=round_,
        value=world.values["1.a"],
        text="Le livret existe.",
        status=ObservationStatus.ENVOYEE,
        written_by=UserFactory(),
        sent_at=timezone.now(),
    )
    return world


def urls_of(world):
    arguments = {
        "object_id": world.self_evaluation.pk,
        "value_id": world.values["1.a"].pk,
        "report_id": world.report.pk,
        "observation_id": world.observation.pk,
    }
    return [(name, reverse(f"admin:{name}", kwargs={k: arguments[k] for k in kwargs})) for name, kwargs in PAGES]


def requests(client, url):
    """GET, and POST with no data: every method a page accepts answers the same way to the same visitor."""
    return {"GET": client.get(url), "POST": client.post(url, {})}


def test_anonymous_visitors_and_establishment_members_are_sent_to_the_login(world, client_for, member):
    for user in (None, member):
        client = client_for(user)
        for name, url in urls_of(world):
            for method, response in requests(client, url).items():
                if response.status_code == 405:
                    continue
                assert response.status_code == 302, f"{name} {method}: {response.status_code}"
                assert "login" in response["Location"], f"{name} {method}: {response['Location']}"


@pytest.mark.parametrize("trait", ["ars_staff", "am_staff", "omedit_staff"])
def test_agents_of_another_region_get_404_on_every_page(world, client_for, other_region, trait):
    client = client_for(UserFactory(**{trait: True, "region": other_region}))
    before = Decision.objects.count(), Observation.objects.filter(answered_at__isnull=False).count()
    for name, url in urls_of(world):
        for method, response in requests(client, url).items():
            if response.status_code == 405:
                continue
            assert response.status_code == 404, f"{name} {method}: {response.status_code}"
    assert (Decision.objects.count(), Observation.objects.filter(answered_at__isnull=False).count()) == before


@pytest.mark.parametrize("who", ["ars", "am", "omedit"])
def test_the_regions_agents_reach_every_page(world, client_for, who):
    client = client_for(getattr(world, who))
    for name, url in urls_of(world):
        response = client.get(url)
        if response.status_code == 405:
            continue
        assert response.status_code == 200, f"{name}: {response.status_code}"


def test_national_administrators_reach_every_page(world, client_for):
    client = client_for(UserFactory(national_admin=True))
    for name, url in urls_of(world):
        response = client.get(url)
        if response.status_code == 405:
            continue
        assert response.status_code == 200, f"{name}: {response.status_code}"


def test_an_agent_without_the_totp_step_is_not_let_in(world):
    client = Client()
    client.force_login(world.ars)
    for name, url in urls_of(world):
        assert client.get(url).status_code == 302, name
