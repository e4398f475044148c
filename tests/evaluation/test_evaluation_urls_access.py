"""Who reaches the evaluators' pages, generated over the URLs of « Évaluations » (EvaluationAdmin.get_urls), so
that every page added there is covered at once: anonymous visitors and establishment members are sent to the
login, agents of another region get 404 whatever their body, the region's agents reach them.

Staff without the TOTP step are sent to it (as tests/accounts/test_staff_totp.py checks for every route).
"""

from urllib.parse import quote

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from contracts.enums import MembershipRole
from evaluation.enums import EvaluatingBody, ObservationStatus, SelfEvaluationState, Verdict
from evaluation.models import ContradictoryRound, Decision, Evaluation, Observation, SelfEvaluation
from tests.accounts.factories import UserFactory
from tests.conftest import Client
from tests.contracts.factories import MembershipFactory
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
    world.decision_ids = [world.decide("1.a", EvaluatingBody.ARS, Verdict.NON_ATTEINT, "Livret absent.").pk]
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
    unknown = {(name, k) for name, kwargs in PAGES for k in kwargs if k not in arguments}
    assert not unknown, f"Pages whose arguments this test does not fill yet: {sorted(unknown)}"
    return [(name, reverse(f"admin:{name}", kwargs={k: arguments[k] for k in kwargs})) for name, kwargs in PAGES]


def requests(client, url):
    """GET, and POST with no data: every method a page accepts answers the same way to the same visitor."""
    return {"GET": client.get(url), "POST": client.post(url, {})}


def test_anonymous_visitors_and_establishment_members_are_sent_to_the_login(world, client_for, member):
    """Anonymous visitors are sent to the site's login (the login-required middleware); the EJ's members, logged
    in but not staff, to the admin's login (its own answer to non-staff): both back to the page afterwards."""
    before = Decision.objects.count(), Observation.objects.filter(answered_at__isnull=False).count()
    reader = MembershipFactory(ej=world.ej, role=MembershipRole.LECTEUR).user
    for user, login in ((None, "account_login"), (member, "admin:login"), (reader, "admin:login")):
        client = client_for(user)
        for name, url in urls_of(world):
            for method, response in requests(client, url).items():
                if response.status_code == 405:
                    continue
                assert response.status_code == 302, f"{name} {method}: {response.status_code}"
                expected = f"{reverse(login)}?next={quote(url)}"
                assert response["Location"] == expected, f"{name} {method}: {response['Location']}"
    assert (Decision.objects.count(), Observation.objects.filter(answered_at__isnull=False).count()) == before


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


@pytest.mark.parametrize("who", ["ars", "am", "omedit"])
def test_an_empty_post_of_the_regions_agents_is_answered_not_a_crash(world, client_for, who):
    """The pages that take a POST answer an empty one with the form again, a refusal, a redirect with a message, or
    a 404 for the question the form does not name: never a server error."""
    client = client_for(getattr(world, who))
    for name, url in urls_of(world):
        response = client.post(url, {})
        assert response.status_code in {200, 302, 400, 403, 404, 405}, f"{name}: {response.status_code}"


def test_national_administrators_reach_every_page(world, client_for):
    client = client_for(UserFactory(national_admin=True))
    for name, url in urls_of(world):
        response = client.get(url)
        if response.status_code == 405:
            continue
        assert response.status_code == 200, f"{name}: {response.status_code}"


@pytest.mark.parametrize("who", ["ars", "am", "omedit"])
def test_an_agent_without_the_totp_step_is_sent_to_it(world, who):
    """Password only, no TOTP set up: every page leads to setting it up; set up but not used in this session:
    every page asks for the code."""
    user = getattr(world, who)
    client = Client()
    client.force_login(user)
    for name, url in urls_of(world):
        for method, response in requests(client, url).items():
            assert response.status_code == 302, f"{name} {method}: {response.status_code}"
            assert response["Location"] == reverse("mfa_activate_totp"), f"{name} {method}: {response['Location']}"
    TOTP.activate(user, generate_totp_secret())
    client = Client()
    client.force_login(user)
    for name, url in urls_of(world):
        for method, response in requests(client, url).items():
            assert response.status_code == 302, f"{name} {method}: {response.status_code}"
            assert response["Location"].startswith(reverse("mfa_reauthenticate")), f"{name} {method}"
    assert not Decision.objects.filter(decided_by=user).exclude(pk__in=world.decision_ids).exists()
