"""Integrity of the stored files: every row has its object, every object its row, every file its SHA-256.

Read-only (SECURITY.md R4, R10): it lists the storage, reads files and queries the database; it never
writes, moves or deletes anything. `manage.py check_documents` prints its report.

The kinds of stored files checked, all on the documents storage (local folder or S3): `Document.file`
under `documents/` (SHA-256 and size in the row), and those the apps built on `documents` keep there too
(the `stored_files` hook of documents/hooks.py), e.g. the closure receipts under `receipts/` (SHA-256 in
their `file_sha256`). The problems found:

- an orphan: an object under one of these prefixes that no row names, e.g. an upload interrupted
  between the object's write and the row's commit (R4). An object younger than the grace period is
  listed apart and not counted as a problem: its row may be on its way;
- a missing file: a row whose object is not in the storage;
- a hash mismatch, only when asked (it reads every byte, in chunks): the stored bytes no longer
  have the row's SHA-256 (or, for documents, its size).

The rows are read before the storage is listed: the upload protocol writes the object before the
row, so a row read first always has its object in the listing that follows.
"""

import dataclasses
import datetime
import hashlib
from collections.abc import Iterator

from django.utils import timezone

from documents import hooks
from documents.models import Document


CHUNK_SIZE = 1024 * 1024
DEFAULT_GRACE = datetime.timedelta(hours=1)
_IN_BATCH = 1000  # names per `IN (...)` query


@dataclasses.dataclass(frozen=True)
class Kind:
    label: str
    prefix: str  # the folder of the keys that upload_to gives, without its slash
    model: type
    file_field: str
    hash_field: str
    size_field: str | None = None

    @property
    def storage(self):
        return self.model._meta.get_field(self.file_field).storage

    def rows(self) -> Iterator["Row"]:
        fields = ["pk", self.file_field, self.hash_field] + ([self.size_field] if self.size_field else [])
        for values in self.model._default_manager.order_by("pk").values_list(*fields).iterator(chunk_size=2000):
            yield Row(self, values[0], values[1] or "", values[2], values[3] if self.size_field else None)


DOCUMENTS = Kind("document", "documents", Document, "file", "sha256", "size")


def kinds() -> list[Kind]:
    """The documents, then the files the apps built on `documents` keep in its storage."""
    return [DOCUMENTS, *hooks.stored_files.collect()]


@dataclasses.dataclass(frozen=True)
class Row:
    kind: Kind
    pk: int
    name: str
    sha256: str
    size: int | None

    def __str__(self):
        return f"{self.kind.label} n° {self.pk}"


@dataclasses.dataclass(frozen=True)
class Orphan:
    kind: Kind
    name: str
    size: int
    modified: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class Missing:
    row: Row


@dataclasses.dataclass(frozen=True)
class Mismatch:
    row: Row
    sha256: str
    size: int


@dataclasses.dataclass
class Report:
    verify_hashes: bool
    grace: datetime.timedelta
    rows: dict = dataclasses.field(default_factory=dict)  # Kind → number of rows
    objects: dict = dataclasses.field(default_factory=dict)  # Kind → number of stored objects
    orphans: list = dataclasses.field(default_factory=list)
    recent_orphans: list = dataclasses.field(default_factory=list)
    missing: list = dataclasses.field(default_factory=list)
    mismatches: list = dataclasses.field(default_factory=list)
    hashed: int = 0  # files read and hashed

    @property
    def problems(self) -> int:
        return len(self.orphans) + len(self.missing) + len(self.mismatches)


def stored_names(storage, directory: str) -> Iterator[str]:
    """Every file name under `directory`, recursively. On S3, `listdir` pages through the listing."""
    try:
        directories, files = storage.listdir(directory)
    except FileNotFoundError:  # a local folder not created yet: nothing stored
        return
    for name in files:
        yield f"{directory}/{name}"
    for sub in directories:
        yield from stored_names(storage, f"{directory}/{sub}")


def file_digest(storage, name: str, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """SHA-256 and size of a stored file, read in chunks (an S3 object spools to disk, not memory)."""
    digest, size = hashlib.sha256(), 0
    with storage.open(name, "rb") as f:
        for chunk in f.chunks(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _names_with_a_row(kind: Kind, names: list[str]) -> set[str]:
    found = set()
    for start in range(0, len(names), _IN_BATCH):
        batch = names[start : start + _IN_BATCH]
        found.update(
            kind.model._default_manager.filter(**{f"{kind.file_field}__in": batch}).values_list(
                kind.file_field, flat=True
            )
        )
    return found


def check_integrity(*, verify_hashes: bool = False, grace: datetime.timedelta = DEFAULT_GRACE, now=None) -> Report:
    """Compare the rows with the stored objects; with verify_hashes, re-hash every stored file."""
    now = now or timezone.now()
    report = Report(verify_hashes=verify_hashes, grace=grace)
    for kind in kinds():
        storage = kind.storage
        rows = list(kind.rows())
        stored = set(stored_names(storage, kind.prefix))
        report.rows[kind] = len(rows)
        report.objects[kind] = len(stored)

        candidates = sorted(stored - {row.name for row in rows})
        # A row committed while the storage was listed is no orphan's.
        late = _names_with_a_row(kind, candidates) if candidates else set()
        for name in candidates:
            if name in late or not storage.exists(name):  # removed since the listing: nothing to report
                continue
            modified = storage.get_modified_time(name)
            orphan = Orphan(kind, name, storage.size(name), modified)
            if modified is not None and now - modified < grace:
                report.recent_orphans.append(orphan)
            else:
                report.orphans.append(orphan)

        for row in rows:
            if not row.name or (row.name not in stored and not storage.exists(row.name)):
                report.missing.append(Missing(row))
                continue
            if verify_hashes:
                try:
                    sha256, size = file_digest(storage, row.name)
                except FileNotFoundError:
                    report.missing.append(Missing(row))
                    continue
                report.hashed += 1
                if sha256 != row.sha256 or (row.size is not None and size != row.size):
                    report.mismatches.append(Mismatch(row, sha256, size))
    return report
