import sys

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils.cache import add_never_cache_headers
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@login_not_required
@require_safe
@never_cache
def health(request):
    """Liveness and database check for the load balancer and the container HEALTHCHECK."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@login_not_required
@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says (the admin's and non-HTML answers included): the DSFR's,
    rather than a 404 in the console."""
    return redirect(static("dsfr/dist/favicon/favicon.ico"), permanent=True)


def bad_request(request, exception):
    return defaults.bad_request(request, exception, template_name="errors/400.html")


def permission_denied(request, exception):
    return defaults.permission_denied(request, exception, template_name="errors/403.html")


def page_not_found(request, exception):
    return defaults.page_not_found(request, exception, template_name="errors/404.html")


def server_error(request):
    # Rendered without the request context on purpose: the database or a context processor may be
    # what failed. The template only needs static files.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return service_unavailable(request)
    template = loader.get_template("errors/500.html")
    return HttpResponse(template.render(), status=500)


# Django calls handler500 inside the `except` that caught the error, wherever it was raised: in a view or in a
# middleware (the session, the user, allauth's), so this is where a database outage is told apart, rather than in a
# middleware, which never sees the exceptions of the middlewares inside it (Django turns them into responses first).
# OperationalError covers a server down or restarting, a connection cut, a statement or lock timeout; InterfaceError
# a connection already closed. Django drops the broken connection at the end of the request
# (CONN_HEALTH_CHECKS, ecars/settings.py) and the next request connects again: no restart needed (SECURITY.md R6).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# How long a browser or a client is asked to wait before trying again (seconds).
RETRY_AFTER = 30


def service_unavailable(request):
    """« Service momentanément indisponible » (503), rendered without touching the database."""
    template = loader.get_template("errors/503.html")
    response = HttpResponse(template.render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    add_never_cache_headers(response)
    return response


def csrf_failure(request, reason=""):
    """A form sent without a valid security token (often: a page left open too long)."""
    return render(request, "errors/403_csrf.html", status=403)


# --- The legal pages of a public service, linked from every page's footer (issue 15) -------------------------------


@login_not_required
@require_safe
def accessibility(request):
    """« Accessibilité » : the accessibility statement in the RGAA model."""
    return render(request, "legal/accessibility.html", {"settings": _legal_settings()})


@login_not_required
@require_safe
def legal_notice(request):
    """« Mentions légales » : publisher, director of publication, host (settings)."""
    return render(request, "legal/legal_notice.html", {"settings": _legal_settings()})


@login_not_required
@require_safe
def personal_data(request):
    """« Données personnelles » : what is processed, why, on which basis, how long, for whom, the rights."""
    return render(request, "legal/personal_data.html", {"settings": _legal_settings()})


@login_not_required
@require_safe
def site_map(request):
    """« Plan du site » : the pages of the service, by who reaches them."""
    return render(request, "legal/site_map.html")


def _legal_settings() -> dict:
    names = (
        "PUBLISHER_NAME",
        "PUBLISHER_ADDRESS",
        "PUBLICATION_DIRECTOR",
        "HOST_NAME",
        "HOST_ADDRESS",
        "DPO_CONTACT",
        "SERVER_LOGS_RETENTION",
        "SUPPORT_EMAIL",
    )
    return {name: getattr(settings, name) for name in names} | {"SESSION_MINUTES": settings.SESSION_COOKIE_AGE // 60}
