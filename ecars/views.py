from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from audit.enums import EventType
from ecars.lib.http import client_ip
from ecars.lib.security import record_bounded_event, security_logger


@login_not_required
@require_safe
@never_cache
def health(request):
    """Liveness and database check for the load balancer and the container HEALTHCHECK."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def bad_request(request, exception):
    return defaults.bad_request(request, exception, template_name="errors/400.html")


def permission_denied(request, exception):
    return defaults.permission_denied(request, exception, template_name="errors/403.html")


def page_not_found(request, exception):
    return defaults.page_not_found(request, exception, template_name="errors/404.html")


def server_error(request):
    # Rendered without the request context on purpose: the database or a context processor may be
    # what failed. The template only needs static files.
    template = loader.get_template("errors/500.html")
    return HttpResponse(template.render(), status=500)


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
    security_logger.info("rate limited: action=%s ip=%s user=%s", action, ip, getattr(actor, "public_id", None))
    record_bounded_event(
        EventType.LOGIN_THROTTLED,
        key=(ip, action),
        actor=actor,
        ip_address=ip,
        data={"path": request.path, "action": action},
    )
    return render(request, "429.html", status=429)


def csrf_failure(request, reason=""):
    """A form sent without a valid security token (often: a page left open too long)."""
    return render(request, "errors/403_csrf.html", status=403)
