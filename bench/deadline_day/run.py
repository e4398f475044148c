"""Deadline day under load: Locust against gunicorn (gunicorn.conf.py), PostgreSQL, Redis and the tasks worker, on
this machine. Run: `make bench-deadline` (DEADLINE_USERS, DEADLINE_DURATION, DEADLINE_ACCOUNTS to change the levels).

1. A fresh database DEADLINE_DB (dropped and created), migrated, with the world of bench/deadline_day/world.py:
   400 establishments, each its own EJ, user and contract, half of 20 questions, half of 150, all open.
2. gunicorn as gunicorn.conf.py sets it (sync workers, cores + 1), behind which Locust plays the reverse proxy
   (X-Forwarded-For per user, TRUSTED_PROXY_COUNT=1); the cache (sessions' rate limits) in Redis; the worker running.
3. Runs, each from the same warm server:
   - floor: the minimal view of bench/urls.py, 50 users without pauses;
   - login storm: every account logs in within one minute;
   - the journey of bench/deadline_day/locustfile.py with pauses of 2 to 10 s, then without pauses, at each level.
4. For each run: per request type p50/p95/p99, requests/s and errors (Locust's figures); the CPU used by gunicorn,
   PostgreSQL, the worker and Locust (from /proc and the children's rusage); and the check that every save Locust
   counted as acknowledged (302) is in the database (one history row per save: each changes the comment).

Prints the tables in Markdown and writes them to bench/deadline_day/last-run.md (git-ignored); bench/README.md keeps
the committed ones. Nothing here is a test.
"""

import csv
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil


ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
DB = os.environ.get("DEADLINE_DB", "ecars_deadline")
PORT = int(os.environ.get("DEADLINE_PORT", 8931))
LEVELS = [int(level) for level in os.environ.get("DEADLINE_USERS", "50,100,200,400").split(",")]
DURATION = int(os.environ.get("DEADLINE_DURATION", 60))
ACCOUNTS = int(os.environ.get("DEADLINE_ACCOUNTS", 400))
HOST = f"http://127.0.0.1:{PORT}"
PASSWORD = "Charge-e-CARS-2026!"  # noqa: S105 - the load test's throwaway accounts
PG = ["-h", "127.0.0.1", "-U", "postgres"]


def django_env() -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.deadline_day.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "CACHE_URL": os.environ.get("DEADLINE_CACHE_URL", "redis://127.0.0.1:6379/7"),
        "TRUSTED_PROXY_COUNT": "1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }


def sql(query: str) -> str:
    return subprocess.run(
        ["psql", *PG, "-d", DB, "-tAc", query], check=True, capture_output=True, text=True
    ).stdout.strip()


def prepare(accounts_path: Path) -> None:
    subprocess.run(["dropdb", *PG, "--if-exists", "--force", DB], check=True)
    subprocess.run(["createdb", *PG, DB], check=True)
    subprocess.run([BIN / "python", "manage.py", "migrate", "-v0"], cwd=ROOT, env=django_env(), check=True)
    build = (
        "import django; django.setup(); from bench.deadline_day.world import build; "
        f"build({ACCOUNTS}, {PASSWORD!r}, {str(accounts_path)!r})"
    )
    subprocess.run([BIN / "python", "-c", build], cwd=ROOT, env=django_env(), check=True)
    subprocess.run(["psql", *PG, "-d", DB, "-qc", "VACUUM ANALYZE"], check=True)
    subprocess.run(["redis-cli", "-n", "7", "FLUSHDB"], check=False, capture_output=True)


def cpu_seconds(process: psutil.Process, *, reaped_children: bool) -> float:
    """CPU time of `process` and of its live children; with `reaped_children`, of those it has waited for too
    (gunicorn's recycled workers, PostgreSQL's ended backends)."""
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


def wait_until_up() -> None:
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{HOST}/bench/minimal/", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn ne répond pas.")


def locust(user_class: str, users: int, spawn_rate: float, seconds: int, prefix: Path, accounts: Path, pauses):
    """Run Locust headless; returns its CPU seconds (rusage of the finished child)."""
    env = {**os.environ, "ACCOUNTS": str(accounts), "PAUSE_MIN": str(pauses[0]), "PAUSE_MAX": str(pauses[1])}
    command = [
        BIN / "locust",
        "-f",
        ROOT / "bench" / "deadline_day" / "locustfile.py",
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--host",
        HOST,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        user_class,
    ]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    return usage.ru_utime + usage.ru_stime


def read_stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as file:
        return list(csv.DictReader(file))


def run(label, user_class, users, spawn_rate, seconds, pauses, *, servers, accounts, folder, report):
    history_before = int(sql("SELECT count(*) FROM evaluation_indicatorvaluehistory"))
    gunicorn, worker = servers
    pg = postmaster()
    before = {
        "gunicorn": cpu_seconds(gunicorn, reaped_children=True),
        "PostgreSQL": cpu_seconds(pg, reaped_children=True),
        "worker": cpu_seconds(worker, reaped_children=True),
    }
    started = time.monotonic()
    prefix = folder / label.replace(" ", "_")
    locust_cpu = locust(user_class, users, spawn_rate, seconds, prefix, accounts, pauses)
    elapsed = time.monotonic() - started
    spent = {
        "gunicorn": cpu_seconds(gunicorn, reaped_children=True) - before["gunicorn"],
        "PostgreSQL": cpu_seconds(pg, reaped_children=True) - before["PostgreSQL"],
        "worker": cpu_seconds(worker, reaped_children=True) - before["worker"],
        "Locust": locust_cpu,
    }
    stats = read_stats(prefix)
    history_after = int(sql("SELECT count(*) FROM evaluation_indicatorvaluehistory"))
    saves = next((row for row in stats if row["Name"] == "save"), None)
    acknowledged = int(saves["Request Count"]) - int(saves["Failure Count"]) if saves else 0
    stored = history_after - history_before
    lines = [f"### {label}", ""]
    lines.append("| requête | nombre | erreurs | req/s | p50 ms | p95 ms | p99 ms |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for row in stats:
        lines.append(
            f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | {float(row['Requests/s']):.1f} | "
            f"{row['50%']} | {row['95%']} | {row['99%']} |"
        )
    cores = psutil.cpu_count()
    split = ", ".join(f"{name} {seconds_ / elapsed / cores * 100:.0f} %" for name, seconds_ in spent.items())
    lines.append("")
    lines.append(f"CPU ({cores} cœurs, {elapsed:.0f} s) : {split}.")
    if saves:
        verdict = "tous en base" if stored >= acknowledged else f"MANQUANT : {acknowledged - stored}"
        lines.append(f"Enregistrements acquittés (302) : {acknowledged} ; en base : {stored} — {verdict}.")
    lines.append("")
    text = "\n".join(lines)
    print(text, flush=True)
    report.append(text)
    return stats


def main():
    if shutil.which("redis-cli") is None:
        print("redis-cli absent : le cache Redis ne sera pas vidé entre deux lancements.")
    folder = Path(tempfile.mkdtemp(prefix="ecars-deadline-"))
    accounts = folder / "accounts.json"
    print(f"Préparation de la base {DB} ({ACCOUNTS} établissements)…", flush=True)
    prepare(accounts)
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
        env=django_env(),
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "gunicorn.log", "w"),  # noqa: SIM115
    )
    worker_process = subprocess.Popen(  # noqa: S603
        [BIN / "python", "manage.py", "db_worker", "--interval", "1"],
        cwd=ROOT,
        env=django_env(),
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "worker.log", "w"),  # noqa: SIM115
    )
    report = [
        f"## Jour de la date limite — {datetime.date.today():%d/%m/%Y}",
        "",
        f"Machine : {platform.node()}, {psutil.cpu_count()} cœurs, {psutil.virtual_memory().total / 2**30:.0f} Gio, "
        f"Python {platform.python_version()}. Commande : `make bench-deadline` "
        f"(DEADLINE_USERS={','.join(map(str, LEVELS))}, DEADLINE_DURATION={DURATION}, {ACCOUNTS} comptes).",
        "",
    ]
    servers = (psutil.Process(gunicorn_process.pid), psutil.Process(worker_process.pid))
    try:
        wait_until_up()
        common = {"servers": servers, "accounts": accounts, "folder": folder, "report": report}
        run("Plancher : vue minimale, 50 utilisateurs sans pause", "Floor", 50, 50, 30, (0, 0), **common)
        run(
            f"Tempête de connexions : {ACCOUNTS} comptes en une minute",
            "StormEstablishment",
            ACCOUNTS,
            ACCOUNTS / 60,
            75,
            (0, 0),
            **common,
        )
        for users in LEVELS:
            run(
                f"Parcours avec pauses de 2 à 10 s, {users} utilisateurs",
                "Establishment",
                users,
                max(users / 30, 1),
                DURATION + 30,
                (2, 10),
                **common,
            )
        for users in LEVELS:
            run(
                f"Parcours sans pause, {users} utilisateurs",
                "Establishment",
                users,
                max(users / 30, 1),
                DURATION + 30,
                (0, 0),
                **common,
            )
    finally:
        for process in (gunicorn_process, worker_process):
            process.send_signal(signal.SIGTERM)
        for process in (gunicorn_process, worker_process):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        (Path(__file__).parent / "last-run.md").write_text("\n".join(report) + "\n")
        print(f"Journaux : {folder}")


if __name__ == "__main__":
    sys.exit(main())
