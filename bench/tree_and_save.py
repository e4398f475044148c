"""Benchmark: the indicator tree of a 300-question contract and a question's save, against the floors.

Run: `make bench` (PostgreSQL at DATABASE_URL, default the local one). It measures, in one run and
in-process (Django's test client, no network), in interleaved rounds (BENCH_ROUNDS, default 7, of
BENCH_PER_ROUND calls of each measure, default 15), the median of the rounds' medians of:

- floor A: a bare view with the project's middleware (login, session, CSRF, CSP…);
- floor B: a plain hand-written page of 300 form fields in the project's layout (DESIGN.md §7);
- the indicator tree page of a 300-question self-evaluation, and its SQL query count;
- saving a question (session, CSRF, lock, update, history, audit, redirect; the commit of the request's
  transaction included), the version the user saw known from the previous save as the page gives it;
- the fill percentage of that contract (`evaluation.progress.fill_percentage`, one aggregate over its values);

and prints the ratios the budgets are written in. Nothing here is a test: no assertion, only
figures to read (and to compare between commits).
"""

import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402


django.setup()

from django.db import connection  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.urls import reverse  # noqa: E402


ROUNDS = int(os.environ.get("BENCH_ROUNDS", 7))  # interleaved rounds
PER_ROUND = int(os.environ.get("BENCH_PER_ROUND", 15))  # calls of each measure per round


def interleaved(measures: dict, rounds=ROUNDS, per_round=PER_ROUND) -> dict[str, float]:
    """{name: median ms}: each round calls every measure `per_round` times in turn, so that a drift of the
    machine hits them all alike; the figure is the median of the rounds' medians."""
    for function in measures.values():
        for _ in range(5):  # warm-up: caches, connections, compiled templates, prepared statements
            function()
    medians = {name: [] for name in measures}
    for _ in range(rounds):
        for name, function in measures.items():
            timings = []
            for _ in range(per_round):
                start = time.perf_counter()
                function()
                timings.append((time.perf_counter() - start) * 1000)
            medians[name].append(statistics.median(timings))
    return {name: statistics.median(values) for name, values in medians.items()}


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


def count_queries(function) -> int:
    """The SQL statements `function` runs (the commit of the request's transaction not included)."""
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        function()
    return len(queries)


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

        tree_url = reverse("evaluation:indicators", args=[self_evaluation.public_id])
        question_url = reverse("evaluation:question", args=[self_evaluation.public_id, "5.2.e"])

        from evaluation import progress
        from evaluation.models import IndicatorValue

        value = IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code="5.2.e")
        saved = {"version": value.version, "answer": "0"}

        def save():
            # The page the user saw gave the version; each save alternates the answer, so it writes.
            saved["answer"] = "1" if saved["answer"] == "0" else "0"
            # As the browser sends the answer form (no file in it): urlencoded, not multipart.
            fields = {"version": saved["version"], "value": saved["answer"], "comment": ""}
            response = client.post(question_url, urlencode(fields), content_type="application/x-www-form-urlencoded")
            assert response.status_code == 302, response.status_code
            saved["version"] += 1
            # « Réponse enregistrée. » is read by the page the redirect leads to (not measured here), as the
            # user's browser would: without it, every save would carry all the earlier ones' messages.
            client.cookies.pop("messages", None)

        def fill_percentage():
            return progress.fill_percentage(self_evaluation.pk)

        figures = interleaved(
            {
                "bare": lambda: client.get("/bench/bare/"),
                "plain": lambda: client.get("/bench/plain-300/"),
                "tree": lambda: client.get(tree_url),
                "save": save,
                "fill": fill_percentage,
            }
        )
        tree_queries = count_queries(lambda: client.get(tree_url))
        save_queries = count_queries(save)
        bare, plain, tree, save_ms = figures["bare"], figures["plain"], figures["tree"], figures["save"]
        print(f"Medians of {ROUNDS} interleaved rounds of {PER_ROUND} calls each")
        print(f"Bare view (floor A)            : {bare:7.2f} ms")
        print(f"Plain 300-field page (floor B) : {plain:7.2f} ms")
        print(f"Indicator tree, 300 questions  : {tree:7.2f} ms   {tree_queries} SQL queries")
        print(f"  → tree / plain page speed    : {plain / tree:7.2f} ×  (budget ≥ 1.0 ×)")
        print(
            f"Saving a question              : {save_ms:7.2f} ms   {save_queries} SQL queries (budget: median ≤ 6 ms)"
        )
        print(f"  → save / bare view speed     : {bare / save_ms:7.2f} ×  (budget ≥ 0.10 ×)")
        print(f"Fill percentage of the contract: {figures['fill']:7.2f} ms   (budget ≤ 1 ms)")
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
