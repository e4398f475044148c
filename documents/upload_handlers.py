"""Upload handlers: a file above the limit is not written beyond it, whatever its announced size.

Django spools uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file. This handler keeps
doing so but stops writing once the file exceeds the documents' limit, so that a 2 GB upload costs
at most 20 Mo of disk, and reports the true received size: validation then refuses it with its
clear message (SECURITY.md E3). The web server's own body limit stays the first line.

Both handlers read the body in chunks of CHUNK_SIZE (1 MiB), not Django's 64 KiB: the multipart parser reads by the
smallest chunk of its handlers, and each chunk is a pass through its Python code. At 64 KiB a 20 Mo upload is 320
passes, and the upload took 2.8× as long as a raw WSGI sink reading the same body behind the same gunicorn; at 1 MiB
the whole upload takes half as long (bench/documents.py), for about 1 Mo more memory per upload in the worker.
"""

from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

from documents.validation import MAX_SIZE


CHUNK_SIZE = 1024 * 1024


class LargeChunkMemoryFileUploadHandler(MemoryFileUploadHandler):
    """Django's handler of small files (FILE_UPLOAD_MAX_MEMORY_SIZE), read by chunks of CHUNK_SIZE."""

    chunk_size = CHUNK_SIZE


class SizeCappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    chunk_size = CHUNK_SIZE

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        kept = max(0, min(len(raw_data), MAX_SIZE + 1 - self.received))
        self.received += len(raw_data)
        if kept:
            self.file.write(raw_data[:kept])

    def file_complete(self, file_size):
        self.file.seek(0)
        # The size received, not the size kept: above the limit, validation refuses the file.
        self.file.size = self.received
        return self.file
