"""Measurement: does « Renouveler le mot de passe » take longer for a known address than for an unknown one?

Run (PostgreSQL at DATABASE_URL, default the local one):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecars_bench .venv/bin/python bench/reset_timing.py

BENCH_RESET_ROUNDS (default 300) sets the number of requests of each kind. Requests for a known and an
unknown address alternate (so that any drift of the machine hits both alike), each from a new browser
session, through Django's test client against a test database, with the production task backend (the
task is queued as a row, not run in the request) and the rate-limit counters emptied between requests
(untimed).

It prints the median and quartiles of each, their difference and a Mann-Whitney U test (normal
approximation, two-sided): a p-value well above 0.01 means no difference the samples can show
(SECURITY.md A12). Nothing here is a test: no assertion, only figures to read.
"""

import math
import os
import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402


django.setup()

from django.core.cache import cache  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.urls import reverse  # noqa: E402


ROUNDS = int(os.environ.get("BENCH_RESET_ROUNDS", 300))
WARM_UP = 20


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test, normal approximation with a tie correction."""
    values = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks, position, ties = [0.0] * len(values), 0, 0.0
    while position < len(values):
        end = position
        while end + 1 < len(values) and values[end + 1][0] == values[position][0]:
            end += 1
        for index in range(position, end + 1):
            ranks[index] = (position + end) / 2 + 1
        count = end - position + 1
        ties += count**3 - count
        position = end + 1
    n1, n2 = len(a), len(b)
    rank_sum = sum(rank for rank, (_, group) in zip(ranks, values, strict=True) if group == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u - n1 * n2 / 2) / sigma
    return math.erfc(abs(z) / math.sqrt(2))


def quartiles(timings):
    q1, q2, q3 = statistics.quantiles(timings, n=4)
    return q1, q2, q3


def main():
    from tests.accounts.factories import UserFactory

    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
            known = [UserFactory(email=f"signataire{number}@chu-exemple.fr").email for number in range(ROUNDS)]
            unknown = [f"personne{number}@inconnu.fr" for number in range(ROUNDS)]
            url = reverse("account_reset_password")

            # One client (a new one would load the middleware, whitenoise's file scan included, each
            # time); its cookies are dropped before each request, which thus starts a new session.
            client = Client()

            def timed(email):
                cache.clear()  # a fresh budget under the rate limits (untimed)
                client.cookies.clear()
                start = time.perf_counter()
                response = client.post(url, {"email": email})
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code != 302:
                    raise RuntimeError(f"the request answered {response.status_code}")
                return elapsed

            for number in range(WARM_UP):
                timed(f"chauffe{number}@exemple.fr")
            known_ms, unknown_ms = [], []
            for number in range(ROUNDS):
                # Alternate which goes first, so that neither always follows the other.
                if number % 2:
                    known_ms.append(timed(known[number]))
                    unknown_ms.append(timed(unknown[number]))
                else:
                    unknown_ms.append(timed(unknown[number]))
                    known_ms.append(timed(known[number]))

        print(f"« Renouveler le mot de passe »: {ROUNDS} requests each, alternating, new session each")
        for label, timings in (("known address", known_ms), ("unknown address", unknown_ms)):
            q1, median, q3 = quartiles(timings)
            print(f"  {label:<16}: median {median:6.2f} ms  (quartiles {q1:6.2f} – {q3:6.2f} ms)")
        difference = statistics.median(known_ms) - statistics.median(unknown_ms)
        print(f"  median difference (known − unknown): {difference:+.2f} ms")
        print(f"  Mann-Whitney U, two-sided p = {mann_whitney_p(known_ms, unknown_ms):.3f}")
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
