"""Benchmark: what the audit trail's hash chain costs (audit.services.append_event) under concurrent writers.

Run: `make bench-audit` (PostgreSQL at DATABASE_URL, default the local one; a test database is created and
dropped). BENCH_WRITERS threads (8), each with its own connection, start together and each appends
BENCH_APPENDS events (250), every event in its own transaction as a request would (commit included in its
time). Three ways, in BENCH_ROUNDS interleaved rounds (3):

- floor: the same rows inserted without any chain (`AuditEvent.objects.create`, what record_event did before);
- chained, each writer on its own EJ's chain (the deadline day: many EJs at once);
- chained, every writer on the same EJ's chain (the worst case: all the appends queue on one head row).

Also one writer alone, chained and not (the cost of one append without any waiting). BENCH_HOLD_MS (0) keeps
each transaction open that long after the append, as the rest of a request would, which lengthens the time
the chain's head stays locked. Prints the medians over the rounds of the throughput (events/s) and of the 95th
percentile of one append's time; then checks every chain with verify_audit's code (no fork, nothing missing).
Nothing here is a test: figures to read and compare between commits.
"""

import os
import statistics
import sys
import threading
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402


django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402


WRITERS = int(os.environ.get("BENCH_WRITERS", 8))
APPENDS = int(os.environ.get("BENCH_APPENDS", 250))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
HOLD = float(os.environ.get("BENCH_HOLD_MS", 0)) / 1000
WARM_UP = 10


def p95(values):
    return statistics.quantiles(values, n=20)[-1]


def plain_insert(ej, number):
    from audit.enums import EventType
    from audit.models import AuditEvent

    AuditEvent.objects.create(event_type=EventType.VALUE_SAVED, ej=ej, data={"n": number}, object_type="bench")


def chained_insert(ej, number):
    from audit.enums import EventType
    from audit.services import record_event

    record_event(EventType.VALUE_SAVED, ej=ej, data={"n": number})


def run(append, ejs) -> tuple[float, list[float]]:
    """One thread per item of `ejs`, appending to it; returns (events per second, every append's ms)."""
    barrier = threading.Barrier(len(ejs) + 1)
    timings = [[] for _ in ejs]
    errors = []

    def writer(position, ej):
        try:
            for number in range(WARM_UP):  # connection, prepared statements
                with transaction.atomic():
                    append(ej, number)
            barrier.wait()
            for number in range(APPENDS):
                started = time.perf_counter()
                with transaction.atomic():
                    append(ej, number)
                    if HOLD:
                        time.sleep(HOLD)
                timings[position].append((time.perf_counter() - started) * 1000)
        except Exception as error:  # noqa: BLE001 - printed below
            errors.append(error)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(position, ej)) for position, ej in enumerate(ejs)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    every = [timing for per_writer in timings for timing in per_writer]
    return len(every) / elapsed, every


def main():
    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        from audit.integrity import verify
        from tests.contracts.factories import EntiteJuridiqueFactory

        ejs = [EntiteJuridiqueFactory() for _ in range(WRITERS + 1)]
        floor_ejs, distinct_ejs, one_ej = ejs[:WRITERS], ejs[:WRITERS], [ejs[WRITERS]] * WRITERS
        measures = {
            "floor": (plain_insert, floor_ejs),
            "distinct": (chained_insert, distinct_ejs),
            "one": (chained_insert, one_ej),
            "alone_floor": (plain_insert, ejs[:1]),
            "alone_chained": (chained_insert, ejs[1:2]),
        }
        figures = {name: {"rate": [], "p95": [], "median": []} for name in measures}
        for round_number in range(1, ROUNDS + 1):
            line = []
            for name, (append, targets) in measures.items():
                rate, timings = run(append, targets)
                figures[name]["rate"].append(rate)
                figures[name]["p95"].append(p95(timings))
                figures[name]["median"].append(statistics.median(timings))
                line.append(f"{name} {rate:6.0f}/s")
            print(f"  round {round_number}: " + "   ".join(line), flush=True)

        def fig(name, key):
            return statistics.median(figures[name][key])

        floor = fig("floor", "rate")
        print(
            f"{WRITERS} writers (threads, one connection each), {APPENDS} appends each, one transaction per append"
            + (f" held {HOLD * 1000:.0f} ms" if HOLD else "")
            + f"; medians of {ROUNDS} interleaved rounds"
        )
        rows = [
            ("Plain insert, no chain (floor)", "floor"),
            (f"Chained, {WRITERS} distinct EJ chains", "distinct"),
            ("Chained, all on one EJ's chain", "one"),
        ]
        for label, name in rows:
            ratio = "" if name == "floor" else f"   → {fig(name, 'rate') / floor:4.2f} × the floor's throughput"
            print(
                f"  {label:<34}: {fig(name, 'rate'):7.0f} events/s   p95 {fig(name, 'p95'):6.2f} ms   "
                f"median {fig(name, 'median'):5.2f} ms{ratio}"
            )
        alone_floor, alone_chained = fig("alone_floor", "median"), fig("alone_chained", "median")
        print(
            f"One writer alone, median append    : {alone_floor:5.2f} ms plain, {alone_chained:5.2f} ms chained "
            f"({alone_chained - alone_floor:+.2f} ms an event)"
        )
        report = verify()
        # The floor's rows have no chain: verify_audit lists each of them as inserted outside the application.
        unchained = [problem for problem in report.problems if not problem.chain]
        broken = len(report.problems) - len(unchained)
        print(
            f"verify_audit: {broken} problem(s) in {report.chains} chain(s) "
            f"({report.events - len(unchained)} chained events; {len(unchained)} unchained rows of the floor)"
        )
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
