"""Benchmark: the indicator tree of a 300-question contract and a question's save, against the floors.

Run: `make bench` (PostgreSQL at DATABASE_URL, default the local one). It measures, in one run and
in-process (Django's test client, no network), the median time of:

- floor A: a bare view with the project's middleware (login, session, CSRF, CSP…);
- floor B: a plain hand-written page of 300 form fields in the project's layout (DESIGN.md §7);
- the indicator tree page of a 300-question self-evaluation, and its SQL query count;
- saving a question (session, CSRF, lock, update, history, audit, redirect);

and prints the ratios the budgets are written in. Nothing here is a test: no assertion, only
figures to read (and to compare between commits).
"""

import os
import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402


django.setup()

from django.db import connection  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.urls import reverse  # noqa: E402


ROUNDS = int(os.environ.get("BENCH_ROUNDS", 60))


def median_ms(function, rounds=ROUNDS):
    for _ in range(5):  # warm-up: caches, connections, compiled templates
        function()
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def build_world():
    from contracts.enums import MembershipRole
    from evaluation.services import create_self_evaluation, transition
    from tests.contracts.factories import ContractFactory, MembershipFactory
    from tests.evaluation.factories import CampaignFactory, NodeFactory

    membership = MembershipFactory(role=MembershipRole.SIGNATAIRE)
    contract = ContractFactory(ej=membership.ej)
    campaign = CampaignFactory(contract_type=contract.contract_type)
    referential = campaign.referential
    position = 0
    for objective_number in range(1, 11):
        objective = NodeFactory(referential=referential, code=f"{objective_number}", position=position)
        position += 1
        for sub_number in range(1, 4):
            sub = NodeFactory(
                referential=referential, parent=objective, code=f"{objective_number}.{sub_number}", position=position
            )
            position += 1
            for letter in "abcdefghij":
                NodeFactory(
                    referential=referential,
                    parent=sub,
                    code=f"{objective_number}.{sub_number}.{letter}",
                    position=position,
                    oui_non=True,
                )
                position += 1
    self_evaluation = create_self_evaluation(contract=contract, campaign=campaign)
    transition(self_evaluation, to_state="auto_evaluation", acting_user=None)
    return membership.user, self_evaluation


def main():
    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        from tests.conftest import Client

        user, self_evaluation = build_world()
        with connection.cursor() as cursor:  # as in production, the planner knows the tables
            cursor.execute("ANALYZE")
        client = Client()
        client.force_login(user)

        bare = median_ms(lambda: client.get("/bench/bare/"))
        plain = median_ms(lambda: client.get("/bench/plain-300/"))
        tree_url = reverse("evaluation:indicators", args=[self_evaluation.public_id])
        tree = median_ms(lambda: client.get(tree_url))
        queries = []
        with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
            client.get(tree_url)
        question_url = reverse("evaluation:question", args=[self_evaluation.public_id, "5.2.e"])

        from evaluation.models import IndicatorValue

        value = IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code="5.2.e")
        answers = iter(["1", "0"] * (ROUNDS + 10))

        def save():
            value.refresh_from_db(fields=["version"])
            response = client.post(
                question_url,
                {"version": value.version, "value": next(answers), "not_applicable_reason": "", "comment": ""},
            )
            assert response.status_code == 302, response.status_code

        save_ms = median_ms(save)
        print(f"Bare view (floor A)            : {bare:7.2f} ms")
        print(f"Plain 300-field page (floor B) : {plain:7.2f} ms")
        print(f"Indicator tree, 300 questions  : {tree:7.2f} ms   {len(queries)} SQL queries")
        print(f"  → tree / plain page speed    : {plain / tree:7.2f} ×  (budget ≥ 1.0 ×)")
        print(f"Saving a question              : {save_ms:7.2f} ms   (budget: median ≤ 6 ms)")
        print(f"  → save / bare view speed     : {bare / save_ms:7.2f} ×  (budget ≥ 0.10 ×)")
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
