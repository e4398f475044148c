"""The machinery of the fault drills (issue 16, SECURITY.md §R): a private PostgreSQL, the portal on it.

A drill breaks a dependency for real, so it never touches the services the rest of the suite shares: it starts its
own PostgreSQL 15 cluster (initdb in a temporary folder, on a free loopback port, as the `postgres` user when the
suite runs as root, since PostgreSQL refuses to run as root), migrates a database there, builds its world with
tests/drills/world.py and runs gunicorn on it (tests/portal.py) with the production settings. The postmaster is a
child of the test process: stopped with SIGINT (PostgreSQL's « fast » shutdown, what `pg_ctl stop` sends), started
again on the same data folder and port, and sent SIGTERM if the test process dies.
"""

import contextlib
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from tests.conftest import free_port
from tests.portal import DB_WORKER, GUNICORN, HOST, ORIGIN, start, stop, tail, wait_until_serving
from tests.s3 import _terminate_with_parent


START_TIMEOUT = 60
PASSWORD = "Exercice-de-panne-2026!"


def _postgres_bin() -> Path | None:
    candidates = sorted(glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    found = shutil.which("postgres")
    for candidate in [*candidates, *([found] if found else [])]:
        folder = Path(candidate).parent
        if (folder / "initdb").is_file():
            return folder
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on 127.0.0.1:`port`; `stop()` and `start()` it at will."""

    def __init__(self, folder: Path):
        self.bin = _postgres_bin()
        if self.bin is None:
            pytest.skip("PostgreSQL's server programs (initdb, postgres) are not installed")
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        # PostgreSQL refuses to run as root: its files and processes then belong to the `postgres` user.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(folder, entry.pw_uid, grp.getgrgid(entry.pw_gid).gr_gid)
        subprocess.run(  # noqa: S603
            [self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True,
            capture_output=True,
            user=self.user,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start the postmaster and wait until it accepts connections; the seconds it took."""
        began = time.monotonic()
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    self.bin / "postgres",
                    "-D",
                    self.data,
                    "-p",
                    str(self.port),
                    "-k",
                    self.folder,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # A throw-away cluster: durability across a power cut is not what the drills test.
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                user=self.user,
                preexec_fn=_terminate_with_parent,  # noqa: PLW1509
            )
        deadline = began + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"PostgreSQL s'est arrêté au démarrage :\n{tail(self.log)}")
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return time.monotonic() - began
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, how=signal.SIGINT) -> None:
        """SIGINT is the « fast » shutdown: open sessions are cut, their transactions rolled back."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(timeout=60)
        self.process = None

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.url}/{name}"

    def query(self, database: str, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.dsn(database)) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def private_postgres():
    folder = Path(tempfile.mkdtemp(prefix="ecars-drill-pg-"))
    cluster = None
    try:
        cluster = PrivatePostgres(folder)
        cluster.start()
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop(signal.SIGQUIT)  # immediate: nothing to keep
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class DrillPortal:
    """The portal's processes on a drill's database: `port` is gunicorn's."""

    port: int
    env: dict
    folder: Path
    world: dict
    processes: dict = field(default_factory=dict)  # name: (Popen, log file)

    def assert_running(self):
        for name, (process, log) in self.processes.items():
            assert process.poll() is None, f"{name} s'est arrêté ({process.returncode}) :\n{tail(log)}"

    def log(self, name: str) -> str:
        return self.processes[name][1].read_text(errors="replace")

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`manage.py …` with the portal's settings and database."""
        return subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_worker(self) -> subprocess.Popen:
        process = start([*DB_WORKER, "--interval", "0.2"], self.env, self.folder / "db_worker.log")
        self.processes["db_worker"] = (process, self.folder / "db_worker.log")
        return process


def portal_environment(database_url: str, folder: Path, **extra) -> dict:
    """The production settings' variables for a drill's processes: its database, a local documents folder, no
    Redis (the cache is each process's own), e-mails printed."""
    documents = folder / "documents"
    documents.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(folder)),
        "ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "tests.ecars.production_settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        # A refused connection fails at once; a cluster that does not answer, after 2 s.
        "DB_CONNECT_TIMEOUT": "2",
        "CACHE_URL": "locmem://",
        "DOCUMENTS_STORAGE": "local",
        "DOCUMENTS_ROOT": str(documents),
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": ORIGIN,
        "TRUSTED_PROXY_COUNT": "1",
        "EMAIL_URL": "consolemail://",
        "WEB_CONCURRENCY": "1",
        **extra,
    }


@contextlib.contextmanager
def running_portal(database_url: str, folder: Path, *, scenario: str = "question", **extra):
    """Migrate the database, build the world (tests/drills/world.py's `scenario`), start gunicorn (one worker);
    stopped on the way out."""
    env = portal_environment(database_url, folder, **extra)
    portal = DrillPortal(port=free_port(), env=env, folder=folder, world={})
    migrated = portal.manage("migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    built = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.drills.world", PASSWORD, scenario],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    portal.world = json.loads(built.stdout.strip().splitlines()[-1])
    log = folder / "gunicorn.log"
    portal.processes["gunicorn"] = (start(GUNICORN, {**env, "GUNICORN_BIND": f"127.0.0.1:{portal.port}"}, log), log)
    try:
        wait_until_serving(portal.port, time.monotonic() + START_TIMEOUT, check_running=portal.assert_running)
        yield portal
    finally:
        for process, _ in portal.processes.values():
            stop(process)
