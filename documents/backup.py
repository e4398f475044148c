"""Backups of the database and of the stored files, and their verification (SECURITY.md R10).

`make_backup(root, …)` writes `root/<timestamp>/` (UTC, e.g. `20250314T031500Z`):

- `database.dump`: `pg_dump --format=custom` of the default database;
- `manifest.json`: every stored-file row of every kind that `integrity.kinds()` knows (the documents,
  and what the apps built on `documents` keep in its storage: closure receipts, evaluation reports),
  with its kind, row id, storage name, size (documents only: the others record none) and SHA-256 as
  the database records them;
- with `with_files`, `files/<storage name>`: a copy of every file, read through Django's storage API
  (local folder or S3), its SHA-256 (and size) checked against the row while it is copied;
- `SHA256SUMS`: the SHA-256 of each of the above, as `sha256sum -c SHA256SUMS` reads them.

The dump and the manifest come from one snapshot: a connection of our own opens a REPEATABLE READ,
read-only transaction, exports its snapshot (`pg_export_snapshot()`), reads the rows, and runs
`pg_dump --snapshot=…` while the transaction is open; a document uploaded during the backup is in
both or in neither. The connection is our own rather than Django's because, inside a transaction
of Django's (a test's, a request's), the rows read would include uncommitted ones that pg_dump
cannot see. pg_dump gets the connection's parameters as a libpq conninfo and the password through
PGPASSWORD, never on its command line (visible to every user of the machine in `ps`).

Everything is written under `root/<timestamp>.partial/` and renamed `root/<timestamp>/` once
complete and synced to disk: a failure removes the partial folder, so a folder with a plain
timestamp name is always a whole backup. Only PostgreSQL is supported: on SQLite (the demo) the
backup refuses, saying so (copying the .sqlite3 file, the server stopped, is the demo's backup).

`verify_backup(path, …)` only reads. It checks SHA256SUMS against the backup's files, that the dump
is a readable pg_dump archive (`pg_restore --list`), that every manifest row has its file with its
SHA-256 (in `files/` when the backup has a copy, else in the live documents storage), and, given a
database URL (a restored copy: the README's restore drill), that this database holds exactly the
manifest's rows, with the same storage names and hashes.
"""

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import environ
import psycopg
from django.db import connections
from django.utils import timezone
from psycopg import sql
from psycopg.conninfo import make_conninfo

from documents import integrity
from documents.models import documents_storage


FORMAT = "e-CARS sauvegarde 1"
DUMP = "database.dump"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
FILES = "files"
PARTIAL = ".partial"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STAMP = re.compile(r"^\d{8}T\d{6}Z$")
CHUNK_SIZE = integrity.CHUNK_SIZE
_SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_POSTGRESQL = "django.db.backends.postgresql"
# Parameters of Django's that are Python objects or psycopg options, not libpq connection keywords; the password,
# given apart; the client encoding that Django forces, pg_dump dumping best in the database's own.
_NOT_LIBPQ = {"cursor_factory", "context", "prepare_threshold", "password", "client_encoding"}


logger = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup or a verification that cannot go on; the message is in French, for the person running it."""


def _no_progress(iterable: Iterable, *, total: int, label: str) -> Iterable:
    return iterable


Progress = Callable[..., Iterable]


# The database -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Database:
    """A PostgreSQL database: its libpq parameters without the password, and the password apart."""

    params: dict
    password: str

    @classmethod
    def default(cls) -> "Database":
        """The database of DATABASES["default"], as Django connects to it (OPTIONS included)."""
        connection = connections["default"]
        engine = connection.settings_dict["ENGINE"]
        if engine != _POSTGRESQL:
            raise BackupError(
                f"La sauvegarde ne prend en charge que PostgreSQL ; la base configurée (DATABASE_URL) utilise "
                f"{engine}. Pour la démonstration sur SQLite, arrêtez le serveur et copiez le fichier de la base."
            )
        params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in _NOT_LIBPQ and isinstance(value, str | int)
        }
        return cls(params, connection.settings_dict["PASSWORD"] or "")

    @classmethod
    def from_url(cls, url: str) -> "Database":
        """A database given as a DATABASE_URL (postgres://user:password@host:port/name)."""
        refusal = "--database-url doit désigner une base PostgreSQL : postgres://utilisateur@hôte:port/nom."
        if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
            raise BackupError(refusal)
        try:
            config = environ.Env.db_url_config(url)
        except ValueError as error:  # e.g. a port that is no number (the message never holds the password)
            raise BackupError(f"Adresse de base de données illisible : {error}.") from error
        if config.get("ENGINE") != _POSTGRESQL or not config.get("NAME"):
            raise BackupError(refusal)
        params = {"dbname": config["NAME"], **config.get("OPTIONS", {})}
        for key, name in (("USER", "user"), ("HOST", "host"), ("PORT", "port")):
            if config.get(key):
                params[name] = config[key]
        return cls(params, config.get("PASSWORD") or "")

    def __str__(self):
        host = self.params.get("host") or "le serveur local"
        port = f":{self.params['port']}" if self.params.get("port") else ""
        return f"« {self.params.get('dbname', '?')} » sur {host}{port}"

    @property
    def conninfo(self) -> str:
        return make_conninfo(**{key: str(value) for key, value in self.params.items()})

    def connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.conninfo, password=self.password or None, autocommit=False)
        except psycopg.Error as error:
            raise BackupError(f"Connexion impossible à la base {self} : {_first_line(error)}") from error

    def environment(self) -> dict:
        """The environment of pg_dump: ours, the password in PGPASSWORD (never on the command line)."""
        env = {**os.environ, "PGAPPNAME": "ecars-backup"}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


def _major(version: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version)
    return int(match.group(1)) if match else 0


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} est introuvable : installez le client PostgreSQL (paquet postgresql-client) de la même "
            "version que le serveur, ou plus récent."
        )
    return path


def _pg_dump_version(pg_dump: str) -> str:
    """pg_dump's version number, e.g. « 15.20 » of « pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1) »."""
    result = subprocess.run([pg_dump, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    match = re.search(r"\) (\d+(?:\.\d+)*)", result.stdout)
    if result.returncode != 0 or not match:
        raise BackupError(f"{pg_dump} --version a échoué : {(result.stderr or result.stdout).strip()}")
    return match.group(1)


def _server_version(connection: psycopg.Connection) -> str:
    number = connection.info.server_version  # e.g. 150020
    return f"{number // 10000}.{number % 10000}"


# The manifest -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KindInfo:
    """How a kind of stored file is kept in the database, as written into the manifest: the restored
    database is checked with these names, not with the models of the code that reads the backup."""

    kind: str
    model: str
    table: str
    id_column: str
    file_column: str
    sha256_column: str
    size_column: str | None
    rows: int = 0

    @classmethod
    def of(cls, kind: integrity.Kind) -> "KindInfo":
        meta = kind.model._meta
        return cls(
            kind=kind.label,
            model=meta.label_lower,
            table=meta.db_table,
            id_column=meta.pk.column,
            file_column=meta.get_field(kind.file_field).column,
            sha256_column=meta.get_field(kind.hash_field).column,
            size_column=meta.get_field(kind.size_field).column if kind.size_field else None,
        )

    def select(self) -> sql.Composed:
        columns = [self.id_column, self.file_column, self.sha256_column] + (
            [self.size_column] if self.size_column else []
        )
        return sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in columns),
            sql.Identifier(self.table),
            sql.Identifier(self.id_column),
        )


@dataclasses.dataclass(frozen=True)
class ManifestRow:
    kind: str
    model: str
    id: int
    name: str
    size: int | None
    sha256: str

    def __str__(self):
        return f"{self.kind} n° {self.id}"

    @property
    def where(self) -> str:
        return self.name or "(aucun fichier enregistré)"


def _read_rows(connection: psycopg.Connection, infos: list[KindInfo]) -> tuple[list[KindInfo], list[ManifestRow]]:
    counted, rows = [], []
    for number, info in enumerate(infos):
        before = len(rows)
        # A named (server-side) cursor: the rows stream in batches, whatever the table's size.
        with connection.cursor(name=f"ecars_backup_manifest_{number}") as cursor:
            cursor.itersize = 2000
            cursor.execute(info.select())
            for record in cursor:
                size = record[3] if info.size_column else None
                rows.append(ManifestRow(info.kind, info.model, record[0], record[1] or "", size, record[2] or ""))
        counted.append(dataclasses.replace(info, rows=len(rows) - before))
    return counted, rows


def _storages() -> dict:
    """The storage of each kind's model (all are the documents storage today)."""
    return {kind.model._meta.label_lower: kind.storage for kind in integrity.kinds()}


def describe_storage(storage) -> str:
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        return f"stockage S3, compartiment « {bucket} » ({getattr(storage, 'endpoint_url', None) or 'AWS'})"
    location = getattr(storage, "location", None)
    return f"dossier local {location}" if location else storage.__class__.__name__


def _file_path(folder: Path, name: str) -> Path:
    """Where the copy of the stored file `name` goes under `folder`; a name that would leave it is refused."""
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in name:
        raise BackupError(f"Nom de fichier stocké refusé : {name!r}.")
    if any(ord(character) < 32 for character in name):
        raise BackupError(f"Nom de fichier stocké refusé : {name!r}.")
    return folder.joinpath(*parts)


# Writing a backup -------------------------------------------------------------------------------


@dataclasses.dataclass
class BackupResult:
    path: Path  # the backup's folder (planned, on a dry run)
    wet_run: bool
    database: str
    server_version: str
    pg_dump_version: str
    storage: str
    with_files: bool
    kinds: list[KindInfo]
    rows: int = 0
    recorded_bytes: int = 0  # sum of the sizes the database records (documents)
    files: int = 0  # files copied
    copied_bytes: int = 0
    backup_bytes: int = 0  # size of the backup's folder
    snapshot: str = ""
    duration: float = 0.0
    leftovers: list[Path] = dataclasses.field(default_factory=list)  # partial folders of interrupted runs


def _check_root(root: Path) -> Path:
    if not root.exists():
        raise BackupError(f"Le dossier {root} n'existe pas : créez-le (accessible au seul compte de service).")
    if not root.is_dir():
        raise BackupError(f"{root} n'est pas un dossier.")
    if not os.access(root, os.W_OK | os.X_OK):
        raise BackupError(f"Écriture impossible dans le dossier {root} (droits insuffisants).")
    return root


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy(storage, name: str, target: Path) -> tuple[str, int]:
    """Copy a stored file to `target` (created, never overwritten), returning the SHA-256 and size of the bytes
    written."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with storage.open(name, "rb") as source, target.open("xb") as copy:
        for chunk in source.chunks(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            copy.write(chunk)
        copy.flush()
        os.fsync(copy.fileno())
    return digest.hexdigest(), size


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seal(folder: Path) -> None:
    """Before the rename that publishes the backup: every file and folder under `folder` readable by its owner only
    (the dump and the files hold personal data) and on disk."""
    for directory, _, names in os.walk(folder, topdown=False):
        for name in names:
            os.chmod(Path(directory, name), 0o600)
            _fsync(Path(directory, name))
        os.chmod(directory, 0o700)
        _fsync(Path(directory))


def _run_pg_dump(pg_dump: str, database: Database, snapshot: str, target: Path, lock_wait_seconds: int) -> None:
    command = [
        pg_dump,
        "--format=custom",
        f"--file={target}",
        f"--snapshot={snapshot}",
        f"--lock-wait-timeout={lock_wait_seconds * 1000}",
        "--no-password",  # never wait for a password at a prompt (cron): PGPASSWORD or .pgpass only
        f"--dbname={database.conninfo}",
    ]
    result = subprocess.run(command, env=database.environment(), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = " ".join(result.stderr.strip().splitlines()[-3:]) or "aucun message"
        raise BackupError(f"pg_dump a échoué (code {result.returncode}) : {detail}")


def _write_manifest(
    target: Path, database: Database, result: BackupResult, created_at: datetime.datetime, rows: list[ManifestRow]
) -> None:
    """manifest.json: the backup's description, then the rows, one a line (readable, and written as they come)."""
    header = {
        "format": FORMAT,
        "created_at": created_at.isoformat(),
        "database": {
            "dump": DUMP,
            "name": database.params.get("dbname", ""),
            "host": str(database.params.get("host", "")),
            "port": str(database.params.get("port", "")),
            "server_version": result.server_version,
            "pg_dump": result.pg_dump_version,
            "snapshot": result.snapshot,
        },
        "storage": result.storage,
        "with_files": result.with_files,
        "kinds": [dataclasses.asdict(info) for info in result.kinds],
    }
    with target.open("x", encoding="utf-8") as f:
        f.write("{\n")
        for key, value in header.items():
            f.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
        f.write(' "rows": [')
        for number, row in enumerate(rows):
            f.write(("\n  " if number == 0 else ",\n  ") + json.dumps(dataclasses.asdict(row), ensure_ascii=False))
        f.write("\n ]\n}\n")


def make_backup(
    root: Path,
    *,
    wet_run: bool,
    with_files: bool = False,
    lock_wait_seconds: int = 60,
    now: datetime.datetime | None = None,
    progress: Progress = _no_progress,
) -> BackupResult:
    """Write a backup into `root/<timestamp>/` (see the module's docstring); on a dry run, read the rows and
    check what the backup needs (PostgreSQL, pg_dump, the folder), and write nothing."""
    started = time.monotonic()
    database = Database.default()
    pg_dump = _program("pg_dump")
    pg_dump_version = _pg_dump_version(pg_dump)
    root = _check_root(Path(root))
    created_at = (now or timezone.now()).astimezone(datetime.UTC)
    stamp = created_at.strftime(STAMP_FORMAT)
    final, partial = root / stamp, root / f"{stamp}{PARTIAL}"
    if final.exists() or partial.exists():
        raise BackupError(f"Une sauvegarde {stamp} existe déjà dans {root} : relancez dans une seconde.")

    storage = documents_storage()
    result = BackupResult(
        path=final,
        wet_run=wet_run,
        database=str(database),
        server_version="",
        pg_dump_version=pg_dump_version,
        storage=describe_storage(storage),
        with_files=with_files,
        kinds=[KindInfo.of(kind) for kind in integrity.kinds()],
        leftovers=sorted(path for path in root.iterdir() if path.name.endswith(PARTIAL) and path != partial),
    )

    connection = database.connect()
    try:
        result.server_version = _server_version(connection)
        if _major(pg_dump_version) < _major(result.server_version):
            raise BackupError(
                f"pg_dump {pg_dump_version} est plus ancien que le serveur (PostgreSQL {result.server_version}) : "
                "installez un pg_dump de la version du serveur ou plus récent."
            )
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        # Like pg_dump, give up rather than wait forever behind a lock (a migration); and keep the exporting
        # transaction open, however long, until pg_dump has imported its snapshot.
        connection.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{lock_wait_seconds}s")))
        connection.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        if not wet_run:
            result.kinds, rows = _read_rows(connection, result.kinds)
            result.rows = len(rows)
            result.recorded_bytes = sum(row.size or 0 for row in rows)
            result.files = len(rows) if with_files else 0
            result.duration = time.monotonic() - started
            return result

        os.mkdir(partial, 0o700)
        try:
            result.snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
            result.kinds, rows = _read_rows(connection, result.kinds)
            _run_pg_dump(pg_dump, database, result.snapshot, partial / DUMP, lock_wait_seconds)
            connection.rollback()  # read-only: nothing to commit
            connection.close()
            result.rows = len(rows)
            result.recorded_bytes = sum(row.size or 0 for row in rows)

            sums = {DUMP: _sha256_file(partial / DUMP)[0]}
            if with_files:
                sums.update(_copy_files(rows, partial / FILES, result, progress))
            manifest = partial / MANIFEST
            _write_manifest(manifest, database, result, created_at, rows)
            sums[MANIFEST] = _sha256_file(manifest)[0]
            with (partial / SUMS).open("x", encoding="utf-8") as f:
                f.writelines(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
            _seal(partial)
            os.rename(partial, final)
            _fsync(root)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    except OSError as error:
        raise BackupError(f"Écriture de la sauvegarde impossible : {error}. Rien n'a été conservé.") from error
    except psycopg.Error as error:
        raise BackupError(f"Lecture de la base impossible : {_first_line(error)}. Rien n'a été conservé.") from error
    except BackupError:
        raise
    except Exception as error:  # e.g. S3 unreachable while copying: a French message, the details in the log
        logger.exception("backup interrupted")
        raise BackupError(
            f"Sauvegarde interrompue ({error.__class__.__name__} : {_first_line(error)}). Rien n'a été conservé."
        ) from error
    finally:
        connection.close()
    result.backup_bytes = sum(path.stat().st_size for path in final.rglob("*") if path.is_file())
    result.duration = time.monotonic() - started
    return result


def _copy_files(rows: list[ManifestRow], folder: Path, result: BackupResult, progress: Progress) -> dict:
    """Copy every row's file under `folder`, checking its SHA-256; every problem is listed before failing."""
    storages = _storages()
    sums, copied, problems = {}, {}, []
    for row in progress(rows, total=len(rows), label="Copie des fichiers"):
        if not row.name:
            problems.append(f"{row} : aucun fichier enregistré")
            continue
        target = _file_path(folder, row.name)
        if row.name not in copied:
            try:
                copied[row.name] = _copy(storages.get(row.model, documents_storage()), row.name, target)
            except FileNotFoundError:
                problems.append(f"{row} : fichier absent du stockage ({row.name})")
                continue
            result.files += 1
            result.copied_bytes += copied[row.name][1]
        digest, size = copied[row.name]
        if digest != row.sha256 or (row.size is not None and size != row.size):
            expected = row.sha256 + (f", {row.size} octets" if row.size is not None else "")
            problems.append(f"{row} : {row.name} — attendu {expected} ; lu {digest}, {size} octets")
        sums[f"{FILES}/{row.name}"] = digest
    if problems:
        raise BackupError(
            f"Copie des fichiers impossible pour {len(problems)} ligne(s), sauvegarde annulée :\n"
            + "\n".join(f"  {problem}" for problem in problems)
            + "\nLancez `manage.py check_documents --verify-hashes` ; sans --with-files, la base et le manifeste "
            "restent sauvegardables."
        )
    return sums


# Verifying a backup -----------------------------------------------------------------------------


@dataclasses.dataclass
class Verification:
    path: Path
    created_at: datetime.datetime | None = None
    files_checked: int = 0  # files of the backup hashed against SHA256SUMS
    sums_problems: list[str] = dataclasses.field(default_factory=list)
    dump_entries: int | None = None  # None: pg_restore not available
    dump_problem: str | None = None
    source: str = ""  # where the rows' files were checked
    kinds: list[KindInfo] = dataclasses.field(default_factory=list)
    rows: int = 0
    missing: list[str] = dataclasses.field(default_factory=list)
    mismatches: list[str] = dataclasses.field(default_factory=list)
    database: str | None = None
    database_rows: int = 0
    database_problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def problems(self) -> int:
        return (
            len(self.sums_problems)
            + (1 if self.dump_problem else 0)
            + len(self.missing)
            + len(self.mismatches)
            + len(self.database_problems)
        )


def find_backup(path: Path) -> Path:
    """`path` itself if it is a backup, else the latest backup in it (never a `.partial` one)."""
    path = Path(path)
    if not path.is_dir():
        raise BackupError(f"Le dossier {path} n'existe pas.")
    if (path / MANIFEST).exists() or (path / SUMS).exists():
        return path
    backups = sorted(child for child in path.iterdir() if child.is_dir() and STAMP.match(child.name))
    if not backups:
        raise BackupError(f"Aucune sauvegarde dans {path} (ni manifest.json, ni dossier daté AAAAMMJJTHHMMSSZ).")
    return backups[-1]


def _load_manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BackupError(f"{path / MANIFEST} est absent : ce n'est pas une sauvegarde complète.") from error
    except (OSError, ValueError) as error:
        raise BackupError(f"{path / MANIFEST} est illisible : {error}.") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path / MANIFEST} n'est pas un manifeste de sauvegarde e-CARS ({FORMAT}).")
    return manifest


def _check_sums(path: Path, report: Verification, progress: Progress) -> dict[str, tuple[str, int]]:
    """Hash every file of the backup and compare with SHA256SUMS; return the digests by relative path."""
    present = sorted(PurePosixPath(file.relative_to(path).as_posix()) for file in path.rglob("*") if file.is_file())
    present = [name for name in present if str(name) != SUMS]
    digests = {}
    for name in progress(present, total=len(present), label="Empreintes des fichiers de la sauvegarde"):
        digests[str(name)] = _sha256_file(path / name)
    report.files_checked = len(digests)

    try:
        lines = (path / SUMS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        report.sums_problems.append(f"{SUMS} est absent : l'intégrité de la sauvegarde ne peut être prouvée.")
        return digests
    except (OSError, UnicodeDecodeError) as error:
        report.sums_problems.append(f"{SUMS} est illisible : {error}.")
        return digests
    listed = set()
    for number, line in enumerate(lines, start=1):
        match = _SUMS_LINE.match(line)
        if not match:
            report.sums_problems.append(f"{SUMS}, ligne {number} illisible : {line[:80]!r}")
            continue
        expected, name = match.groups()
        if name.startswith("/") or ".." in PurePosixPath(name).parts:
            report.sums_problems.append(f"{SUMS}, ligne {number} : chemin refusé {name!r}")
            continue
        listed.add(name)
        if name not in digests:
            report.sums_problems.append(f"{name} : absent de la sauvegarde")
        elif digests[name][0] != expected:
            report.sums_problems.append(f"{name} : altéré (attendu {expected}, lu {digests[name][0]})")
    for name in sorted(set(digests) - listed):
        report.sums_problems.append(f"{name} : présent mais absent de {SUMS}")
    return digests


def _check_dump(path: Path, report: Verification) -> None:
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        return
    if not (path / DUMP).is_file():
        report.dump_problem = f"{DUMP} est absent."
        return
    result = subprocess.run([pg_restore, "--list", str(path / DUMP)], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["aucun message"])[0]
        report.dump_problem = f"{DUMP} n'est pas une archive pg_dump lisible : {detail}"
        return
    report.dump_entries = sum(1 for line in result.stdout.splitlines() if line and not line.startswith(";"))


def _rows(manifest: dict) -> list[ManifestRow]:
    try:
        return [ManifestRow(**row) for row in manifest["rows"]]
    except (KeyError, TypeError) as error:
        raise BackupError(f"Manifeste illisible : ligne de fichier mal formée ({error}).") from error


def _check_files(manifest: dict, rows: list[ManifestRow], digests: dict, report: Verification, progress: Progress):
    def compare(row, digest, size):
        if digest != row.sha256 or (row.size is not None and size != row.size):
            expected = row.sha256 + (f", {row.size} octets" if row.size is not None else "")
            report.mismatches.append(f"{row} : {row.name} — attendu {expected} ; lu {digest}, {size} octets")

    if manifest.get("with_files"):
        report.source = f"la copie de la sauvegarde ({FILES}/)"
        for row in rows:
            found = digests.get(f"{FILES}/{row.name}") if row.name else None
            if found is None:
                report.missing.append(f"{row} : {row.where} absent de {FILES}/")
            else:
                compare(row, *found)
        return
    storages = _storages()
    report.source = f"le {describe_storage(documents_storage())}"
    for row in progress(rows, total=len(rows), label="Empreintes des fichiers stockés"):
        if not row.name:
            report.missing.append(f"{row} : {row.where}")
            continue
        try:
            digest, size = integrity.file_digest(storages.get(row.model, documents_storage()), row.name)
        except FileNotFoundError:
            report.missing.append(f"{row} : {row.name} absent du stockage")
            continue
        except Exception as error:  # e.g. S3 unreachable: said for the row, the check goes on
            logger.warning("could not read %s: %r", row.name, error)
            report.missing.append(f"{row} : {row.name} illisible ({error.__class__.__name__} : {_first_line(error)})")
            continue
        compare(row, digest, size)


def _check_database(database: Database, kinds: list[KindInfo], rows: list[ManifestRow], report: Verification):
    """The database must hold exactly the manifest's rows, with the same storage names, hashes and sizes."""
    report.database = str(database)
    expected = {(row.model, row.id): row for row in rows}
    connection = database.connect()
    try:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        for info in kinds:
            if connection.execute("SELECT to_regclass(%s)", [info.table]).fetchone()[0] is None:
                report.database_problems.append(f"table {info.table} ({info.kind}) absente de la base")
                continue
            found = set()
            _, restored = _read_rows(connection, [info])
            for row in restored:
                found.add(row.id)
                report.database_rows += 1
                original = expected.get((info.model, row.id))
                if original is None:
                    report.database_problems.append(f"{row} : dans la base mais pas dans le manifeste")
                elif (row.name, row.sha256, row.size) != (original.name, original.sha256, original.size):
                    report.database_problems.append(
                        f"{row} : la base dit {row.where}, {row.sha256}"
                        + (f", {row.size} octets" if row.size is not None else "")
                        + f" ; le manifeste {original.where}, {original.sha256}"
                        + (f", {original.size} octets" if original.size is not None else "")
                    )
            for (model, pk), original in expected.items():
                if model == info.model and pk not in found:
                    report.database_problems.append(f"{original} : dans le manifeste mais absent de la base")
        connection.rollback()
    except psycopg.Error as error:
        raise BackupError(f"Lecture de la base {database} impossible : {_first_line(error)}") from error
    finally:
        connection.close()


def verify_backup(path: Path, *, database_url: str | None = None, progress: Progress = _no_progress) -> Verification:
    """Check a backup (see the module's docstring); read-only. Problems are listed in the result, not raised:
    BackupError only when the backup cannot be read at all."""
    database = Database.from_url(database_url) if database_url else None
    path = find_backup(path)
    report = Verification(path=path)
    manifest = _load_manifest(path)
    with contextlib.suppress(TypeError, ValueError):
        report.created_at = datetime.datetime.fromisoformat(manifest.get("created_at"))
    try:
        report.kinds = [KindInfo(**info) for info in manifest["kinds"]]
    except (KeyError, TypeError) as error:
        raise BackupError(f"Manifeste illisible : description des types de fichiers mal formée ({error}).") from error
    rows = _rows(manifest)
    report.rows = len(rows)
    digests = _check_sums(path, report, progress)
    _check_dump(path, report)
    _check_files(manifest, rows, digests, report, progress)
    if database is not None:
        _check_database(database, report.kinds, rows, report)
    return report
