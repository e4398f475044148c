"""Deadline day under load: Locust against gunicorn (gunicorn.conf.py), PostgreSQL, Redis and the tasks worker, on
this machine, in interleaved rounds. Run: `make bench-deadline` (the DEADLINE_* variables below change the sizes).

1. A fresh database DEADLINE_DB (dropped and created), migrated, with the world of bench/deadline_day/world.py:
   400 establishments, each its own EJ, user and contract, half of 20 questions, half of 150, all open; 50 agents
   of the ARS, the Assurance Maladie and the OMEDIT with TOTP, and the closed self-evaluations they decide.
2. gunicorn as gunicorn.conf.py sets it (sync workers, cores + 1), behind which Locust plays the reverse proxy
   (X-Forwarded-For per user, TRUSTED_PROXY_COUNT=1); the cache (sessions' rate limits, used TOTP codes) in Redis
   (DEADLINE_REDIS_DB); the worker running; the documents in the run's temporary folder.
3. After 20 s of warm-up (not measured), DEADLINE_ROUNDS rounds (default 3), each running every scenario in turn
   from the same server, so that a drift of the machine hits them all alike:
   - floor: the minimal view of bench/urls.py, 50 users without pauses (DEADLINE_FLOOR_DURATION s, default 20);
   - login storm: every account logs in within one minute (DEADLINE_STORM_WINDOW s, default 60; held 5 s more);
   - the journey of bench/deadline_day/locustfile.py with pauses of 2 to 10 s at each level of DEADLINE_USERS
     (default 50,100,200,400): users spawned over DEADLINE_RAMP s (default 20), then held DEADLINE_DURATION s
     (default 40);
   - the same without pauses (stress): spawned over DEADLINE_STRESS_RAMP s (default 10), held
     DEADLINE_STRESS_DURATION s (default 30);
   - the evaluators: DEADLINE_AGENTS agents (default 50) deciding questions while DEADLINE_AGENTS_WITH
     establishments (default 200) work, both with pauses, ramp and hold as the journey with pauses.
   The default takes about 30 minutes on the development machine (2 cores), the preparation included; each run
   starts once gunicorn has served what the previous one left queued.
4. For each run: per request type p50/p95/p99, requests/s and errors (Locust's figures), and the same for each
   group of requests (establishments' pages and saves, their uploads, agents); for the journeys (with and without
   pauses, the evaluators) the figures are the hold's: the locustfile resets them once the last user has logged in
   (TOTP included) and stops the run the hold's seconds later — each user logs in once during the ramp, 400 in 10 or
   20 s, up to six times the storm's rate, and the logins are the storm's to measure; the CPU used by gunicorn,
   PostgreSQL (the backends of DEADLINE_DB only), the worker and Locust, over the whole run; the check that every
   save Locust counted as acknowledged (302), from the ramp on, is in the database (one history row per save: each
   changes the comment), and every decision (each raises its version by one). The journeys with pauses are held to
   DESIGN.md §7's p95 « for pages (uploads excepted) »: their establishments' group, saves included.

Reports, per scenario, the median across rounds of each figure, the spread (min–max) of p95 and requests/s, the
errors summed, and a summary against the issue's targets. Prints the tables in Markdown and writes them to
bench/deadline_day/last-run.md (git-ignored); bench/README.md keeps the committed ones. Nothing here is a test.
"""

import csv
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil


ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
DB = os.environ.get("DEADLINE_DB", "ecars_deadline")
PORT = int(os.environ.get("DEADLINE_PORT", 8931))
REDIS_DB = int(os.environ.get("DEADLINE_REDIS_DB", 7))
LEVELS = [int(level) for level in os.environ.get("DEADLINE_USERS", "50,100,200,400").split(",")]
ROUNDS = int(os.environ.get("DEADLINE_ROUNDS", 3))
RAMP = int(os.environ.get("DEADLINE_RAMP", 20))
DURATION = int(os.environ.get("DEADLINE_DURATION", 40))
STRESS_RAMP = int(os.environ.get("DEADLINE_STRESS_RAMP", 10))
STRESS_DURATION = int(os.environ.get("DEADLINE_STRESS_DURATION", 30))
FLOOR_DURATION = int(os.environ.get("DEADLINE_FLOOR_DURATION", 20))
ACCOUNTS = int(os.environ.get("DEADLINE_ACCOUNTS", 400))
AGENTS = int(os.environ.get("DEADLINE_AGENTS", 50))
AGENTS_WITH = int(os.environ.get("DEADLINE_AGENTS_WITH", 200))
PER_AGENT = 3  # closed self-evaluations of each agent's own (bench/deadline_day/world.py)
HOST = f"http://127.0.0.1:{PORT}"
PASSWORD = "Charge-e-CARS-2026!"  # noqa: S105 - the load test's throwaway accounts
PG = ["-h", "127.0.0.1", "-U", "postgres"]
PAUSES = (2, 10)
STORM_WINDOW = int(os.environ.get("DEADLINE_STORM_WINDOW", 60))  # every account logs in within it
# The targets (issue 14).
PACED_P95 = 300
STRESS_SHARE = 0.15
STORM_P95 = 1000
COMPONENTS = ("gunicorn", "PostgreSQL", "worker", "Locust")
# The journeys (with and without pauses, the evaluators) are measured once every user has logged in, for `hold`
# seconds: their logins, all within the ramp (400 in 10 or 20 s, two to six times the storm's rate), are the login
# storm's to measure. LOGINS_CAP bounds the wait for the last logins: beyond it, the run is reported unmeasured.
LOGINS_CAP = int(os.environ.get("DEADLINE_LOGINS_CAP", 120))


def django_env(documents: Path | None = None) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.deadline_day.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "CACHE_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "TRUSTED_PROXY_COUNT": "1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }
    if documents is not None:
        env["DOCUMENTS_ROOT"] = str(documents)
    return env


def sql(query: str) -> str:
    return subprocess.run(
        ["psql", *PG, "-d", DB, "-tAc", query], check=True, capture_output=True, text=True
    ).stdout.strip()


def prepare(accounts_path: Path, documents: Path) -> None:
    subprocess.run(["dropdb", *PG, "--if-exists", "--force", DB], check=True)
    subprocess.run(["createdb", *PG, DB], check=True)
    env = django_env(documents)
    subprocess.run([BIN / "python", "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    build = (
        "import django; django.setup(); from bench.deadline_day.world import build; "
        f"build({ACCOUNTS}, {PASSWORD!r}, {str(accounts_path)!r}, agents={AGENTS}, per_agent={PER_AGENT})"
    )
    subprocess.run([BIN / "python", "-c", build], cwd=ROOT, env=env, check=True)
    subprocess.run(["psql", *PG, "-d", DB, "-qc", "VACUUM ANALYZE"], check=True)
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"], check=False, capture_output=True)


# --- CPU -----------------------------------------------------------------------------------------------------------


def cpu_seconds(process: psutil.Process, *, reaped_children: bool) -> float:
    """CPU time of `process` and of its live children; with `reaped_children`, of those it has waited for too
    (gunicorn's recycled workers)."""
    try:
        times = process.cpu_times()
        total = times.user + times.system + (times.children_user + times.children_system if reaped_children else 0)
        for child in process.children(recursive=True):
            with_child = child.cpu_times()
            total += with_child.user + with_child.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def postmaster() -> psutil.Process:
    candidates = [p for p in psutil.process_iter(["name", "username", "ppid"]) if p.info["name"] == "postgres"]
    roots = [p for p in candidates if p.info["ppid"] not in {c.pid for c in candidates}]
    return roots[0]


class BackendSampler(threading.Thread):
    """The CPU of the PostgreSQL backends connected to DB only (other databases of a shared machine left out):
    every half second, each backend's CPU time; a backend that ends loses at most its last half second."""

    def __init__(self, root: psutil.Process):
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sample(starting=True)

    def sample(self, *, starting=False) -> None:
        for backend in self.root.children():
            try:
                if f" {DB} " not in " ".join(backend.cmdline()) + " ":
                    continue
                times = backend.cpu_times()
            except psutil.Error:
                continue
            spent = times.user + times.system
            self.first.setdefault(backend.pid, spent if starting else 0.0)
            self.last[backend.pid] = spent

    def run(self):
        while not self.stop.wait(0.5):
            self.sample()

    def total(self) -> float:
        self.stop.set()
        self.join()
        self.sample()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def settle(gunicorn: psutil.Process) -> None:
    """Wait (20 s at most) until gunicorn has served what the last run left queued: the next run starts idle."""
    for _ in range(40):
        before = cpu_seconds(gunicorn, reaped_children=True)
        time.sleep(0.5)
        if cpu_seconds(gunicorn, reaped_children=True) - before < 0.05:
            return


# --- Locust --------------------------------------------------------------------------------------------------------


def wait_until_up() -> None:
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{HOST}/bench/minimal/", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn ne répond pas.")


@dataclass(kw_only=True)
class Scenario:
    key: str
    label: str
    kind: str  # floor, storm, paced, stress, evaluators
    classes: list[str]  # the locustfile's user classes
    users: int
    spawn_rate: float  # users started per second
    seconds: int  # the whole run, spawning included (a journey's: the cap, LOGINS_CAP s for the logins included)
    pauses: tuple[int, int] = (0, 0)
    hold: int = 0  # a journey's: the seconds measured once every user has logged in
    env: dict = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    storm = "une minute" if STORM_WINDOW == 60 else f"{STORM_WINDOW} s"
    runs = [
        Scenario(
            key="floor",
            label="Plancher : vue minimale, 50 utilisateurs sans pause",
            kind="floor",
            classes=["Floor"],
            users=50,
            spawn_rate=50,
            seconds=FLOOR_DURATION,
        ),
        Scenario(
            key="storm",
            label=f"Tempête de connexions : {ACCOUNTS} comptes en {storm}",
            kind="storm",
            classes=["StormEstablishment"],
            users=ACCOUNTS,
            spawn_rate=ACCOUNTS / STORM_WINDOW,
            seconds=STORM_WINDOW + 5,
        ),
    ]
    runs += [
        Scenario(
            key=f"paced {users}",
            label=f"Parcours avec pauses de 2 à 10 s, {users} utilisateurs",
            kind="paced",
            classes=["Establishment"],
            users=users,
            spawn_rate=max(users / RAMP, 1),
            seconds=RAMP + LOGINS_CAP + DURATION,
            pauses=PAUSES,
            hold=DURATION,
        )
        for users in LEVELS
    ]
    runs += [
        Scenario(
            key=f"stress {users}",
            label=f"Parcours sans pause, {users} utilisateurs",
            kind="stress",
            classes=["Establishment"],
            users=users,
            spawn_rate=max(users / STRESS_RAMP, 1),
            seconds=STRESS_RAMP + LOGINS_CAP + STRESS_DURATION,
            hold=STRESS_DURATION,
        )
        for users in LEVELS
    ]
    if AGENTS:
        total = AGENTS + AGENTS_WITH
        runs.append(
            Scenario(
                key="evaluators",
                label=f"Évaluateurs : {AGENTS} agents décident pendant que {AGENTS_WITH} "
                "établissements travaillent, pauses de 2 à 10 s",
                kind="evaluators",
                classes=["Agent", "Establishment"],
                users=total,
                spawn_rate=max(total / RAMP, 1),
                seconds=RAMP + LOGINS_CAP + DURATION,
                pauses=PAUSES,
                hold=DURATION,
                env={"AGENTS": str(AGENTS)},
            )
        )
    return runs


def warm_up(accounts: Path, folder: Path) -> None:
    """Not measured: 20 s of the scenarios' pages, so that the gunicorn workers have imported, compiled and
    prepared what they serve before the first round (the others would not pay it)."""
    agents = min(AGENTS, 3)
    floor = Scenario(key="warm", label="", kind="floor", classes=["Floor"], users=10, spawn_rate=10, seconds=5)
    locust(floor, folder / "warm_floor", accounts)
    classes = ["Establishment", "Agent"] if agents else ["Establishment"]
    journeys = Scenario(
        key="warm", label="", kind="stress", classes=classes, users=10 + agents, spawn_rate=10 + agents, seconds=15
    )
    journeys.env = {"AGENTS": str(agents)}
    locust(journeys, folder / "warm_journeys", accounts)


def locust(scenario: Scenario, prefix: Path, accounts: Path) -> float:
    """Run Locust headless; returns its CPU seconds (rusage of the finished child)."""
    env = {
        **os.environ,
        "ACCOUNTS": str(accounts),
        "PAUSE_MIN": str(scenario.pauses[0]),
        "PAUSE_MAX": str(scenario.pauses[1]),
        "GROUPS": f"{prefix}_groups.json",
        "HOLD": str(scenario.hold),
        "PYTHONPATH": str(ROOT),
        **scenario.env,
    }
    command = [
        BIN / "locust",
        "-f",
        ROOT / "bench" / "deadline_day" / "locustfile.py",
        "--headless",
        "--users",
        str(scenario.users),
        "--spawn-rate",
        str(scenario.spawn_rate),
        "--run-time",
        f"{scenario.seconds}s",
        "--host",
        HOST,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        *scenario.classes,
    ]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    return usage.ru_utime + usage.ru_stime


def read_stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as file:
        return list(csv.DictReader(file))


def read_groups(prefix: Path) -> dict:
    """The locustfile's file: {"groups": figures per group, "acknowledged": {request name: count}}."""
    try:
        with open(f"{prefix}_groups.json") as file:
            return json.load(file)
    except FileNotFoundError:
        return {"groups": {}, "acknowledged": {}, "measured": None}


def counters() -> tuple[int, int]:
    """(history rows, decisions recorded): each acknowledged save adds one history row, each decision one version."""
    rows = sql(
        "SELECT (SELECT count(*) FROM evaluation_indicatorvaluehistory), "
        "(SELECT coalesce(sum(version), 0) FROM evaluation_decision)"
    )
    history, decisions = rows.split("|")
    return int(history), int(decisions)


def run(scenario: Scenario, number: int, *, servers, accounts, folder) -> dict:
    gunicorn, worker = servers
    settle(gunicorn)
    history_before, decisions_before = counters()
    backends = BackendSampler(postmaster())
    backends.start()
    before = {
        "gunicorn": cpu_seconds(gunicorn, reaped_children=True),
        "worker": cpu_seconds(worker, reaped_children=True),
    }
    started = time.monotonic()
    prefix = folder / f"r{number}_{scenario.key.replace(' ', '_')}"
    locust_cpu = locust(scenario, prefix, accounts)
    elapsed = time.monotonic() - started
    spent = {
        "gunicorn": cpu_seconds(gunicorn, reaped_children=True) - before["gunicorn"],
        "PostgreSQL": backends.total(),
        "worker": cpu_seconds(worker, reaped_children=True) - before["worker"],
        "Locust": locust_cpu,
    }
    stats = read_stats(prefix)
    written = read_groups(prefix)
    history_after, decisions_after = counters()
    cores = psutil.cpu_count()
    result = {
        "stats": stats,
        "groups": written["groups"],
        "elapsed": elapsed,
        "cpu": {name: seconds / elapsed / cores * 100 for name, seconds in spent.items()},
        "measured": written.get("measured"),
        "saves": (written["acknowledged"].get("save"), history_after - history_before),
        "decisions": (written["acknowledged"].get("agent: decide"), decisions_after - decisions_before),
    }
    total = next(row for row in stats if row["Name"] == "Aggregated")
    cpu = ", ".join(f"{name} {share:.0f} %" for name, share in result["cpu"].items())
    line = (
        f"tour {number} · {scenario.label} : {float(total['Requests/s']):.1f} req/s, p95 {total['95%']} ms, "
        f"{total['Failure Count']} erreur(s) ; CPU {cpu}"
    )
    for what, (ack, stored) in (("enregistrements", result["saves"]), ("décisions", result["decisions"])):
        if ack is not None:
            line += f" ; {what} {'acquittés' if what == 'enregistrements' else 'acquittées'} {ack}, en base {stored}"
    if scenario.hold:
        measured = result["measured"]
        line += (
            f" ; mesuré {measured:.0f} s une fois tous connectés"
            if measured
            else f" ; NON MESURÉ : tous les utilisateurs ne s'étaient pas connectés en {scenario.seconds} s"
        )
    result["line"] = line + "."
    print(result["line"], flush=True)
    return result


# --- Report --------------------------------------------------------------------------------------------------------


def number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def median(values: list[float]) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def spread(values: list[float], digits: int = 0) -> str:
    values = [value for value in values if value is not None]
    if not values:
        return "—"
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def rps(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def figures(rows: list[dict]) -> dict:
    """The figures of one request type (Locust's CSV rows, one per round): medians, spreads, sums."""
    return {
        "count": sum(int(row["Request Count"]) for row in rows),
        "errors": sum(int(row["Failure Count"]) for row in rows),
        "rps": median([number(row["Requests/s"]) for row in rows]),
        "rps_all": [number(row["Requests/s"]) for row in rows],
        "p50": median([number(row["50%"]) for row in rows]),
        "p95": median([number(row["95%"]) for row in rows]),
        "p95_all": [number(row["95%"]) for row in rows],
        "p99": median([number(row["99%"]) for row in rows]),
    }


def group_figures(results: list[dict], group: str) -> dict:
    rows = [result["groups"][group] for result in results if group in result["groups"]]
    return {
        "count": sum(row["requests"] for row in rows),
        "errors": sum(row["failures"] for row in rows),
        "rps": median([row["rps"] for row in rows]),
        "rps_all": [row["rps"] for row in rows],
        "p50": median([row["p50"] for row in rows]),
        "p95": median([row["p95"] for row in rows]),
        "p95_all": [row["p95"] for row in rows],
        "p99": median([row["p99"] for row in rows]),
    }


def by_name(results: list[dict]) -> dict[str, dict]:
    names: dict[str, list[dict]] = {}
    for result in results:
        for row in result["stats"]:
            names.setdefault(row["Name"], []).append(row)
    order = sorted(name for name in names if name != "Aggregated") + ["Aggregated"]
    return {name: figures(names[name]) for name in order if name in names}


def table_row(name: str, item: dict) -> str:
    return (
        f"| {name} | {item['count']} | {item['errors']} | {rps(item['rps'])} | {ms(item['p50'])} | "
        f"{ms(item['p95'])} | {ms(item['p99'])} | {spread(item['p95_all'])} | {spread(item['rps_all'], 1)} |"
    )


def check_line(what: str, pairs: list[tuple[int | None, int]]) -> str | None:
    pairs = [(ack, stored) for ack, stored in pairs if ack is not None]
    if not pairs:
        return None
    ack, stored = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    missing = [f"tour {n}: {a - s}" for n, (a, s) in enumerate(pairs, 1) if s < a]
    saves = what == "Enregistrements"
    verdict = ("tous en base" if saves else "toutes en base") if not missing else "MANQUANT : " + ", ".join(missing)
    per_round = " / ".join(f"{a} → {s}" for a, s in pairs)
    acquitted = "acquittés" if saves else "acquittées"
    return f"{what} {acquitted} (302) : {ack} ; en base : {stored} — {verdict} (par tour : {per_round})."


def scenario_section(scenario: Scenario, results: list[dict]) -> str:
    lines = [f"### {scenario.label}", ""]
    lines.append("| requête | nombre | erreurs | req/s | p50 ms | p95 ms | p99 ms | p95 min–max | req/s min–max |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, item in by_name(results).items():
        lines.append(table_row(name, item))
    if scenario.kind == "evaluators":
        groups = (("agents", "agents (toutes leurs requêtes)"), ("establishments", "établissements (dépôts exceptés)"))
    elif scenario.kind in ("paced", "stress"):
        groups = (("establishments", "pages et enregistrements (dépôts exceptés)"),)
    else:
        groups = ()
    for group, label in groups:
        lines.append(table_row(f"**{label}**", group_figures(results, group)))
    cores = psutil.cpu_count()
    elapsed = median([result["elapsed"] for result in results])
    split = ", ".join(f"{name} {median([r['cpu'][name] for r in results]):.0f} %" for name in COMPONENTS)
    lines.append("")
    lines.append(f"CPU ({cores} cœurs, {elapsed:.0f} s, médiane des tours) : {split}.")
    for what, key in (("Enregistrements", "saves"), ("Décisions", "decisions")):
        line = check_line(what, [result[key] for result in results])
        if line:
            lines.append(line)
    lines.append("")
    return "\n".join(lines)


def yes(ok: bool) -> str:
    return "oui" if ok else "**non**"


def summary(plan: list[Scenario], results: dict[str, list[dict]]) -> str:
    floor = by_name(results["floor"])["Aggregated"]

    def measured(scenario):  # every round's hold measured once all its users had logged in
        return all(result["measured"] for result in results[scenario.key])

    lines = [
        "| scénario | utilisateurs | p95 ms | p95 min–max | req/s | req/s min–max | ÷ plancher | erreurs | objectif "
        "| tenu |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]

    def row(label, users, item, ratio, target, ok):
        lines.append(
            f"| {label} | {users} | {ms(item['p95'])} | {spread(item['p95_all'])} | {rps(item['rps'])} | "
            f"{spread(item['rps_all'], 1)} | {ratio} | {item['errors']} | {target} | {ok} |"
        )

    row("Plancher", 50, floor, "1.00", "—", "—")
    previous = None
    for scenario in plan:
        if scenario.kind == "floor" or not results.get(scenario.key):
            continue
        named = by_name(results[scenario.key])
        if scenario.kind == "storm":
            login = named.get("login", named["Aggregated"])
            ok = login["p95"] is not None and login["p95"] <= STORM_P95 and named["Aggregated"]["errors"] == 0
            row("Tempête de connexions (login)", scenario.users, login, "—", "p95 ≤ 1 s, 0 erreur", yes(ok))
        elif scenario.kind == "paced":
            pages = group_figures(results[scenario.key], "establishments")
            errors = named["Aggregated"]["errors"]  # uploads' included
            ok = pages["p95"] is not None and pages["p95"] <= PACED_P95 and errors == 0 and measured(scenario)
            pages = {**pages, "errors": errors}
            row("Parcours avec pauses (pages)", scenario.users, pages, "—", "p95 ≤ 300 ms, 0 erreur", yes(ok))
        elif scenario.kind == "stress":
            total = named["Aggregated"]
            share = total["rps"] / floor["rps"] if total["rps"] and floor["rps"] else 0
            # « Falls » when this level's requests/s are all below the previous level's: the rounds' spread
            # measures the noise, a fall within it is not one.
            falls = previous is not None and max(filter(None, total["rps_all"]), default=0) < min(
                filter(None, previous["rps_all"]), default=0
            )
            ok = share >= STRESS_SHARE and not falls and total["errors"] == 0 and measured(scenario)
            target = "≥ 0.15 × plancher, débit non décroissant, 0 erreur"
            row("Parcours sans pause", scenario.users, total, f"{share:.2f}", target, yes(ok))
            previous = total
        elif scenario.kind == "evaluators":
            for group, label, users in (
                ("agents", "Évaluateurs : agents", AGENTS),
                ("establishments", "Évaluateurs : établissements avec pauses", AGENTS_WITH),
            ):
                item = group_figures(results[scenario.key], group)
                ok = item["p95"] is not None and item["p95"] <= PACED_P95 and item["errors"] == 0
                ok = ok and measured(scenario)
                row(label, users, item, "—", "p95 ≤ 300 ms, 0 erreur", yes(ok))
    return "\n".join(lines)


def planned_minutes(plan: list[Scenario]) -> float:
    # A journey usually ends well before its cap: about 10 s after the ramp for the last logins.
    seconds = [scenario.seconds - (LOGINS_CAP - 10 if scenario.hold else 0) + 4 for scenario in plan]
    return (ROUNDS * sum(seconds) + 90) / 60  # + preparation and warm-up


def report(plan: list[Scenario], results: dict[str, list[dict]], rounds_done: int) -> str:
    text = [
        f"## Jour de la date limite — {datetime.date.today():%d/%m/%Y}",
        "",
        f"Machine : {platform.node()}, {psutil.cpu_count()} cœurs, {psutil.virtual_memory().total / 2**30:.0f} Gio, "
        f"Python {platform.python_version()}. Commande : `make bench-deadline` (DEADLINE_ROUNDS={ROUNDS}, "
        f"DEADLINE_USERS={','.join(map(str, LEVELS))}, DEADLINE_RAMP={RAMP}, DEADLINE_DURATION={DURATION}, "
        f"DEADLINE_STRESS_RAMP={STRESS_RAMP}, DEADLINE_STRESS_DURATION={STRESS_DURATION}, "
        f"DEADLINE_FLOOR_DURATION={FLOOR_DURATION}, DEADLINE_AGENTS={AGENTS}, DEADLINE_AGENTS_WITH={AGENTS_WITH} ; "
        f"{ACCOUNTS} comptes). {rounds_done} tour(s) entrelacé(s) : chaque chiffre est la médiane des tours, "
        "« min–max » l'écart entre tours ; nombre et erreurs : total des tours.",
        "",
    ]
    if results.get("floor"):
        text += ["### Résumé (objectifs du ticket 14)", "", summary(plan, results), ""]
    text += [scenario_section(scenario, results[scenario.key]) for scenario in plan if results.get(scenario.key)]
    text += ["### Détail des tours", ""]
    for index in range(max(len(runs) for runs in results.values())):
        text += [f"- {runs[index]['line']}" for runs in results.values() if len(runs) > index]
    return "\n".join(text) + "\n"


def main():
    if shutil.which("redis-cli") is None:
        print("redis-cli absent : le cache Redis ne sera pas vidé entre deux lancements.")
    folder = Path(tempfile.mkdtemp(prefix="ecars-deadline-"))
    accounts = folder / "accounts.json"
    documents = folder / "documents"
    plan = scenarios()
    print(
        f"{ROUNDS} tour(s) de {len(plan)} scénarios, environ {planned_minutes(plan):.0f} minutes. "
        f"Préparation de la base {DB} ({ACCOUNTS} établissements, {AGENTS} agents)…",
        flush=True,
    )
    prepare(accounts, documents)
    gunicorn_process = subprocess.Popen(  # noqa: S603
        [
            BIN / "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--access-logfile",
            "/dev/null",
            "ecars.wsgi",
        ],
        cwd=ROOT,
        env=django_env(documents),
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "gunicorn.log", "w"),  # noqa: SIM115
    )
    worker_process = subprocess.Popen(  # noqa: S603
        [BIN / "python", "manage.py", "db_worker", "--interval", "1"],
        cwd=ROOT,
        env=django_env(documents),
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "worker.log", "w"),  # noqa: SIM115
    )
    servers = (psutil.Process(gunicorn_process.pid), psutil.Process(worker_process.pid))
    results: dict[str, list[dict]] = {scenario.key: [] for scenario in plan}
    rounds_done = 0
    try:
        wait_until_up()
        print("Mise en route (non mesurée)…", flush=True)
        warm_up(accounts, folder)
        for number in range(1, ROUNDS + 1):
            for scenario in plan:
                results[scenario.key].append(run(scenario, number, servers=servers, accounts=accounts, folder=folder))
            rounds_done = number
    finally:
        for process in (gunicorn_process, worker_process):
            process.send_signal(signal.SIGTERM)
        for process in (gunicorn_process, worker_process):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        text = report(plan, results, rounds_done)
        print(text, flush=True)
        (Path(__file__).parent / "last-run.md").write_text(text)
        print(f"Journaux : {folder}")


if __name__ == "__main__":
    sys.exit(main())
