"""Clean-up of what an interrupted write leaves behind (issue 16): stored files without a row, spooled uploads.

- `purge_orphans`: the objects of the documents storage that no row names (documents, closure receipts,
  reports: every kind `integrity.kinds()` knows), older than the grace period. A worker killed between the
  object's write and the row's commit leaves one; a younger object may still be getting its row, so it is kept.
  Each name is checked again against its table right before it is deleted. One audit event per run that deleted
  something (COMMAND_RUN, with the names), written once the deletions are done (or one failed).
- `purge_upload_temp_files`: the uploads spooled to FILE_UPLOAD_TEMP_DIR by `SizeCappedTemporaryFileUploadHandler`
  (named `ecars-upload-*.upload*`) older than the threshold: a killed worker never removes its own. Nothing else in
  the folder is touched, and these files have no row: no audit event.

Both only list what they would delete unless `delete=True` (the commands' --wet-run).
"""

import dataclasses
import datetime
import logging
import os

from django.db import transaction
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from documents import integrity
from documents.upload_handlers import TEMP_PREFIX, TEMP_SUFFIX, upload_temp_dir


logger = logging.getLogger("ecars.documents.cleanup")

# Longer than any upload, closure or report can take: a younger file may still be getting its row.
MIN_GRACE = datetime.timedelta(hours=1)


@dataclasses.dataclass
class OrphanPurge:
    orphans: list  # integrity.Orphan, older than the grace period: deleted, or to delete in a dry run
    kept_recent: list  # integrity.Orphan, younger: left in place
    got_a_row: list  # integrity.Orphan whose row appeared since the listing: left in place
    deleted: bool


def purge_orphans(*, grace: datetime.timedelta, delete: bool, now=None) -> OrphanPurge:
    """List the orphans older than `grace` (integrity.check_integrity) and, with `delete`, delete them."""
    report = integrity.check_integrity(grace=grace, now=now)
    result = OrphanPurge(orphans=[], kept_recent=list(report.recent_orphans), got_a_row=[], deleted=delete)
    for orphan in report.orphans:
        if orphan.modified is None:  # a storage that cannot date its objects: never guess, keep it
            result.kept_recent.append(orphan)
        else:
            result.orphans.append(orphan)
    if not delete or not result.orphans:
        return result

    deleted = []
    try:
        for orphan in result.orphans:
            kind = orphan.kind
            # A row committed since the listing is seen here: its file stays.
            if kind.model._default_manager.filter(**{kind.file_field: orphan.name}).exists():
                result.got_a_row.append(orphan)
                continue
            kind.storage.delete(orphan.name)
            deleted.append(orphan)
            logger.info(
                "orphan deleted: %s (%s, %s bytes, modified %s)",
                orphan.name,
                kind.label,
                orphan.size,
                orphan.modified.isoformat(),
            )
    finally:
        # The files deleted before an error are recorded too: the event says what is gone.
        if deleted:
            with transaction.atomic():
                record_event(
                    EventType.COMMAND_RUN,
                    data={
                        "operation": "purge_orphan_files",
                        "grace_minutes": int(grace.total_seconds() // 60),
                        "deleted": [
                            {"name": o.name, "kind": o.kind.label, "size": o.size, "modified": o.modified.isoformat()}
                            for o in deleted
                        ],
                    },
                )
    result.orphans = deleted
    return result


@dataclasses.dataclass(frozen=True)
class TempFile:
    path: str
    size: int
    modified: datetime.datetime


@dataclasses.dataclass
class TempPurge:
    folder: str
    stale: list  # TempFile older than the threshold: removed, or to remove in a dry run
    in_progress: int  # younger spooled uploads, kept


def is_spooled_upload(name: str) -> bool:
    """A name `PrefixedTemporaryUploadedFile` gives: `ecars-upload-<random>.upload[.<extension>]`."""
    return name.startswith(TEMP_PREFIX) and TEMP_SUFFIX in name[len(TEMP_PREFIX) :]


def purge_upload_temp_files(*, older_than: datetime.timedelta, delete: bool, now=None) -> TempPurge:
    """List the spooled uploads of `upload_temp_dir()` older than `older_than` and, with `delete`, remove them."""
    now = now or timezone.now()
    folder = upload_temp_dir()
    result = TempPurge(folder=folder, stale=[], in_progress=0)
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return result
    for entry in sorted(entries, key=lambda e: e.name):
        if not is_spooled_upload(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # its upload ended since the listing
            continue
        modified = datetime.datetime.fromtimestamp(stat.st_mtime, tz=datetime.UTC)
        if now - modified < older_than:
            result.in_progress += 1
            continue
        stale = TempFile(entry.path, stat.st_size, modified)
        if delete:
            try:
                os.remove(entry.path)
            except FileNotFoundError:
                continue
            logger.info("stale upload temporary file removed: %s (%s bytes)", entry.path, stat.st_size)
        result.stale.append(stale)
    return result
