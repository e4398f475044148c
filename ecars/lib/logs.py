"""Structured logs (SECURITY.md F2, F3): one JSON object per line, each carrying the id of the request or task
that emitted it.

- `JsonFormatter` writes a record as one line: `timestamp` (UTC, ISO 8601), `level`, `logger`, `message`,
  `request_id` / `task_id` when known, then the record's `extra` fields; an exception is one escaped field.
- `ContextFilter` (on the handler) puts the current request's or task's id on every record.
- `log_access` (called by ecars.middleware.AccessLogMiddleware) and the task receivers below write the lines:
  one per request (logger `ecars.access`) and one per task run (logger `ecars.tasks`).

Nothing secret goes into these lines: the path is logged without its query string and with the URL arguments
that are secrets masked (`path_for_log`), the user by public id, never by e-mail address.
"""

import contextvars
import datetime
import json
import logging
import time

from django.core.signals import request_finished
from django.utils.functional import empty


# The id of the request (X-Request-ID) or of the task being served by this thread, for every log line it emits.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ecars_request_id", default=None)
current_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ecars_task_id", default=None)

access_logger = logging.getLogger("ecars.access")
security_logger = logging.getLogger("ecars.security")
tasks_logger = logging.getLogger("ecars.tasks")

# URL arguments that are secrets (links sent by e-mail): never written to a log.
SECRET_URL_ARGUMENTS = {"key", "token", "uidb36"}


def log_safe(text: str) -> str:
    """One log line per event, whatever the client put in the URL (no CR/LF injection)."""
    return text.encode("unicode_escape").decode("ascii")


def path_for_log(request, match) -> str:
    """The path, without the query string (it may carry codes) and with the segments holding a
    secret argument masked."""
    secrets = {str(value) for name, value in (match.kwargs if match else {}).items() if name in SECRET_URL_ARGUMENTS}
    secrets.discard("")
    segments = request.path.split("/")
    return log_safe("/".join("[secret]" if any(s in segment for s in secrets) else segment for segment in segments))


def note_ej(request, ej) -> None:
    """Name the EJ a request is about in its access line: views call it once they have loaded the EJ (or an
    object with its EJ), so that the line costs no query of its own."""
    request.log_ej_public_id = str(ej.public_id)


def log_throttled(action: str, *, ip: str | None, user=None) -> None:
    """A rate limit hit (SECURITY.md F2): which action, from which address, on whose account (public id)."""
    user_public_id = str(user.public_id) if user is not None and getattr(user, "public_id", None) else None
    security_logger.info(
        "rate limited: action=%s ip=%s user=%s",
        action,
        ip,
        user_public_id,
        extra={"event": "rate_limited", "action": action, "client_ip": ip, "user_public_id": user_public_id},
    )


# --- Records and lines ---------------------------------------------------------------------------------------------

# The attributes every LogRecord has: what is not among them came from `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_LEADING_FIELDS = ("request_id", "task_id")
# Line separators that json.dumps(ensure_ascii=False) leaves as they are but that some readers split lines on.
_LINE_SEPARATORS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _is_plain(value) -> bool:
    """Whether `value` is made of JSON's own types only. Other objects are left out of the line: their str() may
    hold anything (a request's holds its query string, a user's their e-mail address)."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(item) for key, item in value.items())
    return False


class ContextFilter(logging.Filter):
    """Puts the id of the current request (or task) on every record that does not carry one already, and masks the
    secret segments of the path in Django's own lines about a request (`django.request`'s « Not Found: <path> »,
    « Internal Server Error: <path> », `django.security.csrf`'s…), which name `request.path` as it came."""

    def filter(self, record):
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path and isinstance(record.args, tuple) and path in record.args:
            masked = path_for_log(request, getattr(request, "resolver_match", None))
            record.args = tuple(masked if arg == path else arg for arg in record.args)
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id.get()
            if request_id is not None:
                record.request_id = request_id
        if getattr(record, "task_id", None) is None:
            task_id = current_task_id.get()
            if task_id is not None:
                record.task_id = task_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never a line break inside it, whatever the message or the exception held."""

    def format(self, record):
        line = {
            "timestamp": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _LEADING_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        for name, value in vars(record).items():
            if name in _RECORD_ATTRIBUTES or name in line:
                continue
            if _is_plain(value):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str).translate(_LINE_SEPARATORS)


# --- Requests ------------------------------------------------------------------------------------------------------


def set_request_id(request_id: str) -> None:
    current_request_id.set(request_id)


def _forget_request(**kwargs):
    # At the response's close (after Django's own `django.request` line and any streaming): the thread serves
    # no request any more.
    current_request_id.set(None)


request_finished.connect(_forget_request, dispatch_uid="ecars.lib.logs.forget_request")


def _user_public_id(request) -> str | None:
    user = getattr(request, "user", None)
    # A user not loaded yet (a request answered before any view) is not loaded for the log's sake: that would
    # be a query, and the database may be what just failed.
    if user is None or getattr(user, "_wrapped", None) is empty or not user.is_authenticated:
        return None
    public_id = getattr(user, "public_id", None)
    return str(public_id) if public_id is not None else None


def log_access(request, response, started: float, client_ip: str | None) -> None:
    """The request's access line: who, about which EJ, what, how it ended, how long it took."""
    match = getattr(request, "resolver_match", None)
    ej = getattr(request, "log_ej_public_id", None)
    if ej is None and match is not None and "ej" in match.kwargs:
        ej = str(match.kwargs["ej"])  # the URL names the EJ itself (a UUID: checked by the URL converter)
    method = log_safe(request.method or "")
    path = path_for_log(request, match)
    status = response.status_code
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    access_logger.info(
        "%s %s %s %.1fms",
        method,
        path,
        status,
        duration_ms,
        extra={
            "method": method,
            "path": path,
            "view": match.view_name if match is not None else None,
            "status": status,
            "duration_ms": duration_ms,
            "user_public_id": _user_public_id(request),
            "ej_public_id": ej,
            "client_ip": client_ip,
        },
    )


# --- Tasks ---------------------------------------------------------------------------------------------------------


def task_enqueued(sender, task_result, **kwargs):
    """The enqueuing line ties the task's id to the request that asked for it (its `request_id`)."""
    tasks_logger.info(
        "task enqueued: %s",
        task_result.task.module_path,
        extra={"task": task_result.task.module_path, "queued_task_id": str(task_result.id)},
    )


def task_started(sender, task_result, **kwargs):
    current_task_id.set(str(task_result.id))
    tasks_logger.debug(
        "task started: %s",
        task_result.task.module_path,
        extra={"task": task_result.task.module_path, "task_id": str(task_result.id)},
    )


def task_finished(sender, task_result, **kwargs):
    """One line per task run: which task, which run, how it ended, how long it took."""
    started, finished = task_result.started_at, task_result.finished_at
    duration_ms = round((finished - started).total_seconds() * 1000, 1) if started and finished else None
    status = str(getattr(task_result.status, "value", task_result.status))
    fields = {
        "task": task_result.task.module_path,
        "task_id": str(task_result.id),
        "status": status,
        "duration_ms": duration_ms,
        "attempt": len(task_result.worker_ids),
    }
    if status == "FAILED" and task_result.errors:
        error = task_result.errors[-1]
        fields |= {"error": error.exception_class_path, "exception": error.traceback}
    (tasks_logger.error if status == "FAILED" else tasks_logger.info)(
        "task %s: %s", status, task_result.task.module_path, extra=fields
    )
    current_task_id.set(None)


def connect_task_signals() -> None:
    """Our lines in place of django_tasks' own started/finished ones (two plain lines per run, the failure's
    traceback logged apart): one line per run, the traceback of a failure in it."""
    from django_tasks import signals

    signals.task_started.disconnect(signals.log_task_started)
    signals.task_finished.disconnect(signals.log_task_finished)
    signals.task_enqueued.connect(task_enqueued, dispatch_uid="ecars.lib.logs.task_enqueued")
    signals.task_started.connect(task_started, dispatch_uid="ecars.lib.logs.task_started")
    signals.task_finished.connect(task_finished, dispatch_uid="ecars.lib.logs.task_finished")
