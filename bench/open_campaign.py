"""Benchmark: opening a national campaign (`manage.py open_campaign`) against a plain COPY of the same rows.

Run: `make bench-campaign` (PostgreSQL at DATABASE_URL, default the local one; a test database is created and
dropped). The world is national: 18 regions, BENCH_EJ legal entities (3,000) each with one signed contract and one
member, a referential of BENCH_QUESTIONS questions (150), and last year's campaign fully answered, so that every
new value is linked to last year's (450,000 values, 450,000 earlier values read).

Each round, interleaved:
- floor: `COPY` of exactly the rows the opening writes (the same columns and values) into a table made
  `LIKE evaluation_indicatorvalue INCLUDING ALL` (its indexes and constraints, not its foreign keys), in one
  transaction — the cost of writing the rows themselves;
- open_campaign: the whole service, as the command runs it (plan, batches of 250 contracts each in its own
  transaction with the campaign row locked, self-evaluations, values by COPY, last year's links, transitions,
  audit, then the opening e-mails to 3,000 members through the tasks backend: here the immediate one, with
  Django's in-memory mail backend, so that rendering and queueing are counted but no SMTP server);
then the campaign's rows are deleted (triggers off for this session only) for the next round.

Prints the medians and the ratio. Then, on the campaign opened once more: the dashboard's figures for the whole
country (median of 5, and their query count) and a national export, CSV then XLSX, written to a temporary file.
Nothing here is a test: figures to read and compare between commits.
"""

import datetime
import io
import os
import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402


django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.utils import timezone  # noqa: E402


EJ_COUNT = int(os.environ.get("BENCH_EJ", 3000))
QUESTIONS = int(os.environ.get("BENCH_QUESTIONS", 150))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
START = datetime.date(2026, 3, 1)
UNUSABLE = "!"  # an unusable password hash: these accounts never log in


def build_world():
    """The national world, written in bulk (its building is not measured)."""
    from accounts.models import User
    from contracts.enums import MembershipRole
    from contracts.models import Contract, ContractType, EntiteJuridique, Membership, Region
    from contracts.regions import REGIONS
    from evaluation.enums import SelfEvaluationState, ValueType
    from evaluation.models import Campaign, Node, Referential, SelfEvaluation
    from tests.contracts.factories import _luhn_key

    regions = Region.objects.bulk_create(
        Region(code=info.code, name=info.name, agency_name=info.agency_name) for info in REGIONS
    )
    caqes = ContractType.objects.create(code="CAQES", name="CAQES")
    referential = Referential.objects.create(contract_type=caqes, name="Référentiel national")
    objectives = Node.objects.bulk_create(
        Node(referential=referential, code=str(number), label=f"Objectif {number}", position=number * 100)
        for number in range(1, 11)
    )
    Node.objects.bulk_create(
        Node(
            referential=referential,
            parent=objectives[number % 10],
            code=f"{number % 10 + 1}.{number}",
            label=f"Indicateur {number}",
            position=(number % 10 + 1) * 100 + number,
            value_type=ValueType.OUI_NON if number % 2 else ValueType.TAUX,
            default_target="1" if number % 2 else "80",
        )
        for number in range(QUESTIONS)
    )
    ejs = EntiteJuridique.objects.bulk_create(
        EntiteJuridique(
            finess=f"{(n % 90) + 10:02d}{n:06d}" + _luhn_key(f"{(n % 90) + 10:02d}{n:06d}"),
            name=f"CENTRE HOSPITALIER {n}",
            region=regions[n % len(regions)],
        )
        for n in range(EJ_COUNT)
    )
    contracts = Contract.objects.bulk_create(
        Contract(contract_type=caqes, name=f"CAQES {ej.finess}", ej=ej) for ej in ejs
    )
    users = User.objects.bulk_create(
        User(email=f"qualite{n}@ch{n}.fr", password=UNUSABLE, kind="etablissement") for n in range(EJ_COUNT)
    )
    Membership.objects.bulk_create(
        Membership(user=user, ej=ej, role=MembershipRole.SIGNATAIRE) for user, ej in zip(users, ejs, strict=True)
    )

    def campaign(year, start):
        made = Campaign.objects.create(
            code=f"caqes-{year}",
            name=f"CAQES {year}",
            contract_type=caqes,
            year=year,
            referential=referential,
            self_assessment_start=start,
            self_assessment_deadline=start + datetime.timedelta(days=60),
        )
        made.regions.set(regions)
        return made

    last_year = campaign(2024, datetime.date(2025, 3, 1))
    this_year = campaign(2025, START)
    before = SelfEvaluation.objects.bulk_create(
        SelfEvaluation(
            contract=contract,
            campaign=last_year,
            state=SelfEvaluationState.CLOTUREE,
            closed_at=timezone.now() - datetime.timedelta(days=300),
        )
        for contract in contracts
    )
    indicators = list(Node.objects.indicators().values_list("pk", "default_target"))
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY evaluation_indicatorvalue (self_evaluation_id, indicator_id, target, value, not_applicable, "
            "not_applicable_reason, comment, version, updated_at) FROM STDIN"
        ) as copy,
    ):
        for self_evaluation in before:
            for pk, target in indicators:
                copy.write_row((self_evaluation.pk, pk, target, "1", False, "", "Fait.", 2, now))
    return this_year


def planned_rows(campaign):
    """The rows the opening writes, as the floor COPYs them (the same service code computes them)."""
    from evaluation import campaigns

    plan = campaigns.plan(campaign, today=START)
    questions = campaigns._Questions(campaign)
    previous = campaigns._previous_answers(campaign, [contract.pk for contract in plan.to_create])
    rows = []
    for number, contract in enumerate(plan.to_create, start=1):
        earlier = previous.get(contract.pk, {})
        for indicator_id, _, target, code in questions.of_region(contract.ej.region_id):
            rows.append((number, indicator_id, None, target, earlier.get((code, None))))
    return rows


def floor_copy(rows):
    from evaluation.campaigns import VALUE_COLUMNS

    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute("CREATE TABLE bench_copy (LIKE evaluation_indicatorvalue INCLUDING ALL)")
        start = time.perf_counter()
        with cursor.copy(f"COPY bench_copy ({', '.join(VALUE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, "", False, "", "", 1, now))
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_copy")
    return elapsed


def opening(campaign):
    from evaluation import campaigns

    start = time.perf_counter()
    result = campaigns.open_campaign(campaign, today=START)
    elapsed = time.perf_counter() - start
    assert result.created == EJ_COUNT, result
    assert result.values == EJ_COUNT * QUESTIONS, result
    assert result.linked == result.values, result
    assert result.notices == EJ_COUNT, result
    return elapsed


def reset(campaign):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # the append-only triggers, for the bench
        for table, column in (
            ("evaluation_notice", "self_evaluation_id"),
            ("evaluation_transition", "self_evaluation_id"),
            ("evaluation_indicatorvalue", "self_evaluation_id"),
        ):
            cursor.execute(
                f"DELETE FROM {table} WHERE {column} IN "  # noqa: S608 - fixed names
                "(SELECT id FROM evaluation_selfevaluation WHERE campaign_id = %s)",
                [campaign.pk],
            )
        cursor.execute("DELETE FROM evaluation_selfevaluation WHERE campaign_id = %s", [campaign.pk])
        cursor.execute("ANALYZE")


def national_figures(campaign):
    """The dashboard and the exports on the opened national campaign."""
    import tempfile

    from django.test.utils import CaptureQueriesContext

    from evaluation import dashboard, exports

    scope = dashboard.Scope(campaign=campaign, region_ids=tuple(campaign.regions.values_list("pk", flat=True)))
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        dashboard.build(scope)
        timings.append(time.perf_counter() - start)
    with CaptureQueriesContext(connection) as queries:
        dashboard.build(scope)
    print(
        f"Dashboard, whole country            : {statistics.median(timings) * 1000:7.0f} ms  ({len(queries)} queries)"
    )
    for fmt in (exports.CSV, exports.XLSX):
        export = exports.CampaignExport(campaign)
        start = time.perf_counter()
        with tempfile.TemporaryFile() as target:
            if fmt == exports.CSV:
                for line in exports.csv_lines(export.headers, export.rows()):
                    target.write(line.encode("utf-8"))
            else:
                exports.write_xlsx(export.headers, export.rows(), target)
            size = target.tell()
        elapsed = time.perf_counter() - start
        label = f"Export {fmt.upper()}, whole country"
        print(f"{label:36}: {elapsed:7.2f} s  ({export.row_count} rows, {size / 1e6:.0f} Mo)")


def main():
    import logging

    from django.core import mail

    logging.getLogger("django_tasks").setLevel(logging.WARNING)

    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        started = time.perf_counter()
        campaign = build_world()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"World: {EJ_COUNT} EJ, {QUESTIONS} questions, built in {time.perf_counter() - started:.1f} s")
        rows = planned_rows(campaign)
        print(f"Rows per opening: {len(rows)} values")
        floors, openings = [], []
        for number in range(1, ROUNDS + 1):
            floors.append(floor_copy(rows))
            mail.outbox = []
            openings.append(opening(campaign))
            sent = len(mail.outbox)
            reset(campaign)
            print(
                f"  round {number}: COPY {floors[-1]:6.2f} s   open_campaign {openings[-1]:6.2f} s   ({sent} e-mails)"
            )
        floor, measured = statistics.median(floors), statistics.median(openings)
        print(f"Plain COPY of the same rows (floor) : {floor:7.2f} s  (median of {ROUNDS})")
        print(f"open_campaign, everything included  : {measured:7.2f} s  (median of {ROUNDS})")
        print(f"  → open_campaign / COPY            : {measured / floor:7.2f} ×")
        print(f"  → values per second                : {len(rows) / measured:9.0f}")
        opening(campaign)
        national_figures(campaign)
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
