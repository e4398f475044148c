from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.template import loader
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


def csrf_failure(request, reason=""):
    """A form sent without a valid security token (often: a page left open too long)."""
    return render(request, "errors/403_csrf.html", status=403)
