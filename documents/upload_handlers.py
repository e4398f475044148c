"""Upload handlers: a file above the limit is not written beyond it, whatever its announced size.

Django spools uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file. This handler keeps
doing so but stops writing once the file exceeds the documents' limit, so that a 2 GB upload costs
at most 20 Mo of disk, and reports the true received size: validation then refuses it with its
clear message (SECURITY.md E3). The web server's own body limit stays the first line.

Both handlers read the body in chunks of CHUNK_SIZE (1 MiB), not Django's 64 KiB: the multipart parser reads by the
smallest chunk of its handlers, and each chunk is a pass through its Python code. At 64 KiB a 20 Mo upload is 320
passes, and the upload took 2.8× as long as a raw WSGI sink reading the same body behind the same gunicorn; at 1 MiB
the whole upload takes half as long (bench/documents.py), for about 1 Mo more memory per upload in the worker.

A file spooled to disk is also hashed while it arrives (`Digest`): its SHA-256 (11 ms for 20 Mo, a third of the
upload) is computed by a thread while the request goes on reading the body — hashlib releases the GIL — and
validation does not read the whole file again for it (documents.validation.validate_upload).

The spooled file is named `ecars-upload-*.upload<extension>` (TEMP_PREFIX, TEMP_SUFFIX) in FILE_UPLOAD_TEMP_DIR: a
worker killed mid-upload cannot remove its own, and `manage.py purge_upload_temp_files` removes those left behind
(documents/cleanup.py), touching no other file of the folder.
"""

import hashlib
import os
import queue
import tempfile
import threading
import weakref

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler

from documents.validation import MAX_SIZE


CHUNK_SIZE = 1024 * 1024
TEMP_PREFIX = "ecars-upload-"
TEMP_SUFFIX = ".upload"


def upload_temp_dir() -> str:
    """The folder uploads are spooled to: FILE_UPLOAD_TEMP_DIR, or the system's (as Django's `tempfile` does)."""
    return settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()


class PrefixedTemporaryUploadedFile(TemporaryUploadedFile):
    """Django's spooled upload, named with TEMP_PREFIX so that the files a killed worker leaves are recognisable."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        _, ext = os.path.splitext(name)
        file = tempfile.NamedTemporaryFile(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX + ext, dir=upload_temp_dir())
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class LargeChunkMemoryFileUploadHandler(MemoryFileUploadHandler):
    """Django's handler of small files (FILE_UPLOAD_MAX_MEMORY_SIZE), read by chunks of CHUNK_SIZE."""

    chunk_size = CHUNK_SIZE


class Digest:
    """The SHA-256 of the chunks given to `update`, computed by a thread of its own; `hexdigest` waits for it.

    An upload that fails half-way (the client gone, a parsing error) never asks for its digest: the thread then stops
    when the Digest is collected, with the request (it holds the hash and the queue, not the Digest)."""

    def __init__(self):
        self._hash = hashlib.sha256()
        self._chunks = queue.SimpleQueue()
        self._thread = threading.Thread(target=_hash_chunks, args=(self._hash, self._chunks), daemon=True)
        self._thread.start()
        weakref.finalize(self, self._chunks.put, None)

    def update(self, chunk: bytes):
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self):
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()


def _hash_chunks(digest, chunks: queue.SimpleQueue):
    while (chunk := chunks.get()) is not None:
        digest.update(chunk)


class SizeCappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Spools to a temporary file, never more than MAX_SIZE + 1 bytes of it, and hashes what it keeps (`Digest`): the
    file then carries `received_sha256`, the SHA-256 of its bytes, for validation."""

    chunk_size = CHUNK_SIZE

    def new_file(self, *args, **kwargs):
        # TemporaryFileUploadHandler.new_file without its unprefixed TemporaryUploadedFile.
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = PrefixedTemporaryUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self.received = 0
        self.digest = Digest()

    def receive_data_chunk(self, raw_data, start):
        kept = max(0, min(len(raw_data), MAX_SIZE + 1 - self.received))
        self.received += len(raw_data)
        if kept:
            chunk = raw_data[:kept]
            self.digest.update(chunk)
            self.file.write(chunk)

    def file_complete(self, file_size):
        self.file.seek(0)
        # The size received, not the size kept: above the limit, validation refuses the file.
        self.file.size = self.received
        sha256 = self.digest.hexdigest()
        if self.received <= MAX_SIZE:  # every byte was kept and hashed
            self.file.received_sha256 = sha256
        return self.file

    def upload_interrupted(self):
        if digest := getattr(self, "digest", None):
            digest.close()
        super().upload_interrupted()
