"""gunicorn settings: sync workers, cores + 1 (the best and most stable on this stack, STACK-NOTES.md).

Run behind a reverse proxy that buffers requests and responses (sync workers need it) and sets
X-Forwarded-Proto. Every value can be overridden by an environment variable.
"""

import multiprocessing
import os


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
# Longer than the slowest legitimate request (a 20 Mo upload reaching us from the proxy's buffer).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 60))
keepalive = 5
# Recycle workers now and then so that memory growth can never accumulate — rarely: a new worker imports Django
# and warms its caches (referential trees, templates, prepared statements) for about a second of CPU. At 2,000
# requests, on deadline day (150 requests/s on 2 cores), each worker was restarted every 40 s and two at once put the
# pages' p95 at 0.5 to 1.4 s (bench/README.md); a worker grows by less than 2 Mo over a 20 Mo upload.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 50_000))
max_requests_jitter = max_requests // 10
# Only the proxy may tell us the client's scheme and address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The portal writes its own access line, in JSON, with the request id, the user and the EJ (ecars/lib/logs.py):
# gunicorn's, in another format and with the query string (which may carry a code), only on demand.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# The request id (X-Request-ID, set by the portal or the proxy) ties a line to the audit trail's events.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss id=%({x-request-id}o)s'
errorlog = "-"
# gunicorn ≥ 27 opens a control socket in ~/.gunicorn by default: several instances on one
# machine would collide, and we do not use it.
control_socket_disable = True


def _drop_server_header():
    """No `Server: gunicorn` banner (SECURITY.md H2): it tells a scanner what to try.

    gunicorn (23 to 27 at least) has no setting for it: `Response.default_headers` always writes the
    status line, then `Server`, `Date` and `Connection`. This file runs in the arbiter before the
    workers fork, so they all inherit the filtered method. Only HTTP/1.1 is served (no `http_protocols`).
    """
    from gunicorn.http import wsgi

    original = wsgi.Response.default_headers
    if getattr(original, "drops_server_header", False):  # the file is read again on reload (HUP)
        return

    def default_headers(self):
        return [line for line in original(self) if not line.lower().startswith("server:")]

    default_headers.drops_server_header = True
    wsgi.Response.default_headers = default_headers


_drop_server_header()
