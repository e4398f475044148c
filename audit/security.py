"""Security events that a client can trigger at will, recorded without letting it flood the audit table.

The audit table is append-only (a trigger refuses DELETE): a row written for every throttled or
refused request would let one client fill it at the speed of its requests. Such events are
recorded at most once per key (e.g. client address and action) and per window; the ones in
between are counted in the shared cache, and the next recorded row says how many there were.
"""

import hashlib
import logging

from django.core.cache import cache

from audit.services import record_event


# Refused accesses, throttled requests, malformed requests: one line each (the log is not the
# audit table; it is rotated and shipped, see SECURITY.md F2, F5).
security_logger = logging.getLogger("ecars.security")

DEFAULT_WINDOW = 60  # seconds
# How long the count of unrecorded events waits for the next recorded one.
SUPPRESSED_COUNT_TIMEOUT = 24 * 60 * 60


def _cache_key(kind: str, event_type: str, key: tuple) -> str:
    # Keys hold client-controlled text (addresses, paths): hashed, they stay short and valid for
    # every cache backend.
    digest = hashlib.sha256(repr((event_type, key)).encode()).hexdigest()[:32]
    return f"ecars:bounded-event:{kind}:{digest}"


def _count_suppressed(counter: str) -> None:
    cache.add(counter, 0, timeout=SUPPRESSED_COUNT_TIMEOUT)
    try:
        cache.incr(counter)
    except ValueError:  # expired between add() and incr(): count this one afresh
        cache.add(counter, 1, timeout=SUPPRESSED_COUNT_TIMEOUT)


def _take_suppressed(counter: str) -> int:
    count = cache.get(counter) or 0
    if count:
        try:
            # Subtract what was read rather than delete: increments made meanwhile by other
            # workers stay counted for the next row.
            cache.decr(counter, count)
        except ValueError:
            pass
    return count


def record_bounded_event(event_type, *, key: tuple, window: int = DEFAULT_WINDOW, data: dict | None = None, **fields):
    """Record `event_type` unless one was already recorded for `key` in the last `window` seconds.

    Returns the event, or None when the event was only counted. The first event recorded after
    some were counted carries their number in `data["suppressed"]`. `fields` are those of
    `audit.services.record_event` (actor, ej, target, context).
    """
    counter = _cache_key("suppressed", event_type, key)
    if not cache.add(_cache_key("window", event_type, key), 1, timeout=window):
        _count_suppressed(counter)
        return None
    data = dict(data or {})
    suppressed = _take_suppressed(counter)
    if suppressed:
        data["suppressed"] = suppressed
    return record_event(event_type, data=data, **fields)
