"""Upload handlers: a file above the limit is not written beyond it, whatever its announced size.

Django spools uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file. This handler keeps
doing so but stops writing once the file exceeds the documents' limit, so that a 2 GB upload costs
at most 20 Mo of disk, and reports the true received size: validation then refuses it with its
clear message (SECURITY.md E3). The web server's own body limit stays the first line.
"""

from django.core.files.uploadhandler import TemporaryFileUploadHandler

from documents.validation import MAX_SIZE


class SizeCappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
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
