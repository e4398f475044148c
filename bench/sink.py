"""The floors of an upload (bench/documents.py): raw WSGI applications served by the same gunicorn as the portal
(gunicorn.conf.py), that read the request's body to the end and answer 204. No Django.

- `application` reads by chunks of 64 KiB, the size Django's own upload handlers, shutil and most WSGI code read by;
- `application_mebibyte` by chunks of 1 MiB, the portal's (documents/upload_handlers.py).
"""

import functools


def _sink(environ, start_response, *, chunk_size):
    stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        chunk = stream.read(min(chunk_size, left))
        if not chunk:
            break
        left -= len(chunk)
    start_response("204 No Content", [("Content-Length", "0")])
    return []


application = functools.partial(_sink, chunk_size=64 * 1024)
application_mebibyte = functools.partial(_sink, chunk_size=1024 * 1024)
