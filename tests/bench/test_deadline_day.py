"""The deadline-day load test (bench/deadline_day/): its world builds, and the forms its virtual users post
(bench/deadline_day/pages.py, which the locustfile uses) are accepted by the portal: an establishment saves an
answer, an agent logs in with the TOTP code the harness computes and records decisions. Behaviour only: the
figures are the benchmark's."""

import json

from django.urls import reverse

from bench.deadline_day import pages, world
from evaluation.enums import SelfEvaluationState
from evaluation.models import Decision, IndicatorValueHistory, SelfEvaluation
from tests.conftest import Client


PASSWORD = "Charge-e-CARS-2026!"  # noqa: S105 - a throwaway account of the test


def text(response) -> str:
    return response.content.decode()


def log_in(client, data, email) -> None:
    page = client.get(data["login"])
    response = client.post(
        data["login"], {"login": email, "password": PASSWORD, "csrfmiddlewaretoken": pages.csrf(text(page))}
    )
    assert response.status_code == 302, text(response)
    return response


def test_the_world_and_the_forms_of_the_virtual_users(tmp_path):
    path = tmp_path / "world.json"
    world.build(4, PASSWORD, str(path), agents=3, per_agent=1)
    data = json.loads(path.read_text())
    assert len(data["users"]) == 4
    assert [agent["body"] for agent in data["agents"]] == ["ars", "ars", "am"]
    closed = SelfEvaluation.objects.filter(state=SelfEvaluationState.CLOTUREE)
    assert closed.count() == 2 * world.closed_per_region(3, 1) == 2
    assert SelfEvaluation.objects.filter(state=SelfEvaluationState.AUTO_EVALUATION).count() == 4

    # An establishment saves an answer with the locustfile's form.
    establishment = data["users"][0]
    client = Client(enforce_csrf_checks=True)
    assert log_in(client, data, establishment["email"])["Location"] == reverse("contracts:home")
    url = f"{establishment['question_prefix']}{establishment['codes'][0]}/"
    response = client.post(url, pages.answer(text(client.get(url))))
    assert response.status_code == 302
    assert IndicatorValueHistory.objects.count() == 1

    # An agent: password, then the TOTP code computed from the secret the world gives.
    agent = data["agents"][2]
    client = Client(enforce_csrf_checks=True)
    assert log_in(client, data, agent["email"])["Location"] == data["code"]
    page = client.get(data["code"])
    code = pages.totp_code(agent["secret"], agent["email"])
    response = client.post(data["code"], {"code": code, "csrfmiddlewaretoken": pages.csrf(text(page))})
    assert response.status_code == 302
    assert client.get(data["evaluations"]).status_code == 200
    evaluation = agent["evaluations"][0]
    assert client.get(evaluation["evaluate"]).status_code == 200
    url = evaluation["values"][0]
    for version in (1, 2):  # a decision, then another on the version the page shows now
        response = client.post(url, pages.decision(text(client.get(url))))
        assert pages.decision_recorded(response.status_code, response["Location"], url), text(response)
        decision = Decision.objects.get()
        assert (decision.version, decision.body, decision.decided_by.email) == (version, "am", agent["email"])
    assert decision.value.self_evaluation.state == SelfEvaluationState.EN_EVALUATION
    # A refusal is told apart: the same form on a question the Assurance Maladie does not decide.
    others = [value for value in decision.value.self_evaluation.values.all() if not value.indicator.evaluated_by_am]
    other = reverse(
        "admin:evaluation_evaluation_evaluate_question", args=[decision.value.self_evaluation_id, others[0].pk]
    )
    response = client.post(other, pages.decision(text(client.get(other))))
    assert not pages.decision_recorded(response.status_code, response.get("Location", ""), other)
    assert Decision.objects.count() == 1
