"""« Récupérer tous les documents »: a ZIP streamed as it is built, in constant memory.

Members are stored, not deflated: the documents are already compressed (PDF, OOXML, JPEG…), so
deflating would cost CPU for nothing. The archive is written to a sink that the response drains
after every chunk; nothing is held but one chunk, whatever the number and size of the documents.
Each member's SHA-256 is checked as it is sent: a document altered in storage aborts the download
(the client sees an incomplete archive, never a silently corrupted one) and is logged.
"""

import hashlib
import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.utils import timezone

from documents.models import Document


logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024


class DocumentAltered(Exception):
    """A stored document no longer matches the SHA-256 recorded at upload."""


@dataclass(frozen=True)
class Member:
    path: str  # path in the archive, folders separated by "/"
    document: Document


class _Sink:
    """A write-only, unseekable file: zipfile then writes data descriptors and never seeks back."""

    def __init__(self):
        self._chunks = []

    def write(self, data):
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _safe_part(text: str) -> str:
    """A path component that cannot escape its folder or hide control characters."""
    cleaned = "".join("_" if char in '/\\:*?"<>|' or ord(char) < 32 else char for char in text).strip(" .")
    return cleaned or "_"


def unique_paths(members: Iterable[Member]) -> list[Member]:
    """Same name twice in one folder: the later ones get « (2) », « (3) »… before the extension."""
    seen = set()
    result = []
    for member in members:
        folder, _, name = member.path.rpartition("/")
        folder_parts = [_safe_part(part) for part in folder.split("/")] if folder else []
        name = _safe_part(name)
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        candidate, number = name, 1
        while "/".join([*folder_parts, candidate]).casefold() in seen:
            number += 1
            candidate = f"{stem} ({number}){dot}{extension}"
        path = "/".join([*folder_parts, candidate])
        seen.add(path.casefold())
        result.append(Member(path, member.document))
    return result


def stream_zip(members: Iterable[Member], *, notes: str = "") -> Iterator[bytes]:
    """Yield the bytes of a ZIP of `members` (stored), plus a LISEZMOI.txt when `notes` is given."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for member in unique_paths(members):
            document = member.document
            info = zipfile.ZipInfo(member.path, date_time=_zip_time(document))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = document.size
            digest = hashlib.sha256()
            with document.file.open("rb") as source, archive.open(info, mode="w", force_zip64=False) as target:
                while chunk := source.read(CHUNK_SIZE):
                    digest.update(chunk)
                    target.write(chunk)
                    yield sink.drain()
            document.file.close()
            if digest.hexdigest() != document.sha256:
                logger.error("Document %s altéré dans le stockage : archive interrompue.", document.public_id)
                raise DocumentAltered(str(document.public_id))
            yield sink.drain()
        if notes:
            archive.writestr(zipfile.ZipInfo("LISEZMOI.txt", date_time=(1980, 1, 1, 0, 0, 0)), notes.encode())
    yield sink.drain()


def _zip_time(document) -> tuple:
    local = timezone.localtime(document.uploaded_at)
    return (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)
