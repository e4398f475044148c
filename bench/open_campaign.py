"""Benchmark: opening a national campaign (`manage.py open_campaign`) against a COPY of the same rows.

Run: `make bench-campaign` (PostgreSQL at DATABASE_URL, default the local one; a test database is created and
dropped). The world is national: 18 regions, BENCH_EJ legal entities (3,000) each with one signed contract and one
member, a referential of BENCH_QUESTIONS questions (150), and last year's campaign fully answered, so that every
new value is linked to last year's (450,000 values, 450,000 earlier values read).

Each round, interleaved:
- floor, as DESIGN.md §7 writes the budget (« ≤ 1.5× `COPY` of the same rows into the same schema », its floor
  « `COPY` of 450,000 rows with foreign keys ≈ 6 s »): `COPY` of exactly the rows the opening writes (the same
  columns and values) into evaluation_indicatorvalue itself, for the 3,000 self-evaluations made first (untimed),
  in one transaction, printed as the COPY and the commit, where PostgreSQL checks the table's six foreign keys row
  by row (three of them NULL here): what writing these rows into this schema costs whoever writes them;
- a lower line, not the floor: the same `COPY` into a table made `LIKE evaluation_indicatorvalue INCLUDING ALL`
  (its indexes and constraints, not its foreign keys) — the cost of the rows without the checks the schema imposes
  (the first version of this benchmark took it as its floor);
- open_campaign: the whole service, as the command runs it (plan, batches of 250 contracts each in its own
  transaction with the campaign row locked, self-evaluations, values and last year's links in one statement,
  transitions, audit, ANALYZE, then the 3,000 opening e-mails rendered, their notices recorded and their tasks
  queued in the tasks backend of production, the database one);
then the campaign's rows are deleted (triggers off for this session only) and the tables vacuumed, so that every
round starts from the same tables (autovacuum may be off on a test server, and each round leaves 450,000 dead rows).

Changed since the first version of this benchmark (bench/README.md's figures of 04/12/2026): the e-mails went
through the immediate tasks backend, which ran the worker's part — building each MIME message and handing it to
the mail backend, ≈ 1.7 ms an e-mail — inside the opening; the command only queues them (production's backend is
the database one, `manage.py db_worker` sends them), so the queueing is timed, and the worker's sending is
measured after the rounds, on its own line. The rounds did not vacuum, so each one ran on the previous ones' dead
rows. The floor was the COPY into a table without foreign keys, cheaper than the schema DESIGN.md names.

Prints the medians and the ratio. Then, on the campaign opened once more: the worker sending its e-mails, the
dashboard's figures for the whole country (median of 5, and their query count) and a national export, CSV then
XLSX, written to a temporary file. Nothing here is a test: figures to read and compare between commits.
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
    """The rows the opening writes, as the floors COPY them (the same service code computes them)."""
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


def copy_without_foreign_keys(rows):
    """The lower line: the same COPY into a table like the values' one, without its foreign keys."""
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


def copy_into_the_table(campaign, rows):
    """The floor: the same COPY into evaluation_indicatorvalue, for self-evaluations made first (untimed).
    Returns the COPY's and the commit's durations."""
    from evaluation.campaigns import VALUE_COLUMNS, plan
    from evaluation.models import SelfEvaluation

    made = SelfEvaluation.objects.bulk_create(
        SelfEvaluation(contract=contract, campaign=campaign) for contract in plan(campaign, today=START).to_create
    )
    now = timezone.now()
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(f"COPY evaluation_indicatorvalue ({', '.join(VALUE_COLUMNS)}) FROM STDIN") as copy:
            for number, *row in rows:
                copy.write_row((made[number - 1].pk, *row, "", False, "", "", 1, now))
        copied = time.perf_counter()
    committed = time.perf_counter()
    reset(campaign)
    return copied - start, committed - copied


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


def queued_emails():
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path="ecars.emails.send_email", status="READY").count()


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
        cursor.execute("DELETE FROM django_tasks_database_dbtaskresult")
    with connection.cursor() as cursor:
        # The same tables for every round: without it, each round works among the previous ones' dead rows.
        cursor.execute(
            "VACUUM (FULL, ANALYZE) evaluation_indicatorvalue, evaluation_selfevaluation, evaluation_notice, "
            "evaluation_transition, audit_auditevent, django_tasks_database_dbtaskresult"
        )
        cursor.execute("ANALYZE")


def worker_sends(expected):
    """The worker's part, after the opening: `manage.py db_worker` sending every queued e-mail."""
    from django.core import mail
    from django.core.management import call_command

    mail.outbox = []
    start = time.perf_counter()
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    elapsed = time.perf_counter() - start
    assert len(mail.outbox) == expected, len(mail.outbox)
    label = f"Worker sending the {expected} e-mails"
    print(f"{label:36}: {elapsed:7.2f} s  (after the opening, not counted in it)")


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

    from django.test import override_settings

    logging.getLogger("django_tasks").setLevel(logging.WARNING)
    logging.getLogger("django_tasks_db").setLevel(logging.WARNING)

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
        floors, references, openings = [], [], []
        with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
            for number in range(1, ROUNDS + 1):
                floors.append(copy_without_foreign_keys(rows))
                copied, committed = copy_into_the_table(campaign, rows)
                references.append(copied + committed)
                openings.append(opening(campaign))
                queued = queued_emails()
                reset(campaign)
                print(
                    f"  round {number}: COPY {floors[-1]:6.2f} s   COPY into the table {copied:5.2f} + commit "
                    f"{committed:5.2f} s   open_campaign {openings[-1]:6.2f} s   ({queued} e-mails queued)"
                )
            floor, reference, measured = (statistics.median(x) for x in (floors, references, openings))
            print(f"COPY into the schema (floor)        : {reference:7.2f} s  (median of {ROUNDS}; FKs checked)")
            print(f"COPY into a table without FKs       : {floor:7.2f} s  (median of {ROUNDS}; lower line)")
            print(f"open_campaign, everything included  : {measured:7.2f} s  (median of {ROUNDS})")
            print(f"  → open_campaign / floor (budget ≤ 1.5×): {measured / reference:7.2f} ×")
            print(f"  → open_campaign / COPY without FKs: {measured / floor:7.2f} ×")
            print(f"  → values per second                : {len(rows) / measured:9.0f}")
            opening(campaign)
            worker_sends(EJ_COUNT)
        national_figures(campaign)
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
