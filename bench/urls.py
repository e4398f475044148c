from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path

from ecars.urls import urlpatterns as project_urlpatterns


def bare(request):
    return HttpResponse("ok")


@login_not_required
def minimal(request):
    """The load test's floor (bench/deadline_day): a minimal Django view behind the same gunicorn and middleware,
    nobody logged in, so that it never redirects to the login page."""
    return HttpResponse("ok")


def plain_300(request):
    """DESIGN.md §7's floor: a hand-written page of 300 fields in the portal's layout."""
    return render(request, "bench/plain_300.html", {"fields": range(300)})


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/minimal/", minimal),
    path("bench/plain-300/", plain_300),
    path("", include(project_urlpatterns)),
]
