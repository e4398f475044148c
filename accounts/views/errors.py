"""The portal's answer to a rate limit (allauth's, and the portal's own: invitations…)."""

from django.shortcuts import render

from audit.enums import EventType
from audit.security import record_bounded_event
from ecars.lib.http import client_ip, request_context
from ecars.lib.logs import log_throttled


def too_many_requests(request, exception=None):
    """allauth's rate limits: a French page, and an audit event per client address, action and minute.

    A throttled client keeps sending: one row per request would let it fill the append-only audit
    table, so the requests of the same minute are only counted (`record_bounded_event`).
    """
    ip = client_ip(request)
    match = getattr(request, "resolver_match", None)
    action = match.view_name if match is not None else "unknown"
    user = getattr(request, "user", None)
    actor = user if user is not None and user.is_authenticated else None
    log_throttled(action, ip=ip, user=actor)
    record_bounded_event(
        EventType.LOGIN_THROTTLED,
        key=(ip, action),
        actor=actor,
        context=request_context(request),
        data={"path": request.path, "action": action},
    )
    return render(request, "429.html", status=429)
