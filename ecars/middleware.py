import time

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import UnreadablePostError
from django.utils.cache import add_never_cache_headers

from ecars.lib import logs
from ecars.lib.http import client_ip, request_id_of


# Browser features the portal never uses, denied to it and to anything it could ever embed
# (SECURITY.md H2). Only features Chromium recognises (checked with Chromium 156): an unknown one
# prints a console warning on every page.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "clipboard-read",
        "compute-pressure",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "identity-credentials-get",
        "idle-detection",
        "keyboard-map",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "otp-credentials",
        "payment",
        "picture-in-picture",
        # WebAuthn: to be allowed to 'self' if security keys are ever offered (only TOTP today).
        "publickey-credentials-create",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "speaker-selection",
        "usb",
        "window-management",
        "xr-spatial-tracking",
    )
)
# Signing out forgets everything the browser kept for the portal (SECURITY.md B3).
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'
LOGOUT_VIEW = "account_logout"


class AccessLogMiddleware:
    """One JSON access line per request (ecars.lib.logs), and the request's id on every line logged meanwhile.

    First in MIDDLEWARE: its duration covers the whole chain, and whatever the others log carries the id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        logs.set_request_id(request_id_of(request))
        response = self.get_response(request)
        try:
            ip = client_ip(request)
        except ImproperlyConfigured:  # fewer X-Forwarded-For entries than trusted proxies: logged as unknown
            ip = None
        logs.log_access(request, response, started, ip)
        return response


class SecurityHeadersMiddleware:
    """Headers that Django does not send by itself, on every response (first in MIDDLEWARE, so that
    static files, redirects and error pages get them too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # One id per request, the proxy's if it sent one: in the response, the access log and the audit trail.
        request_id = request_id_of(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        match = getattr(request, "resolver_match", None)
        if (
            request.method == "POST"
            and match is not None
            and match.view_name == LOGOUT_VIEW
            and response.status_code < 400
        ):
            response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class NulByteInRequest(SuspiciousOperation):
    """Logged by Django as `django.security.NulByteInRequest`; the answer is the 400 page."""


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


class RejectNulBytesMiddleware:
    """A NUL byte in the path, the query string, a cookie, a header or a form field answers 400.

    No legitimate client sends one, and PostgreSQL refuses NUL in text: let through, it turns any
    lookup or save into a 500. Checked before the session and the user are loaded (a NUL in the
    session cookie would reach the database there). Uploaded files' contents are not form fields
    and are not checked; their names are cleaned by Django.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._carries_nul(request):
            raise NulByteInRequest("NUL byte in the request's path, query string, cookies, headers or form fields")
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request) -> bool:
        if "\x00" in request.path or "\x00" in request.path_info:
            return True
        if _has_nul(request.COOKIES) or _has_nul(request.COOKIES.values()):
            return True
        if _has_nul(
            value for name, value in request.META.items() if name.startswith("HTTP_") and isinstance(value, str)
        ):
            return True
        for name, values in request.GET.lists():
            if "\x00" in name or _has_nul(values):
                return True
        if request.method == "POST":
            try:
                fields = list(request.POST.lists())
            except UnreadablePostError:
                return False  # the client went away: whatever reads the body next fails as before
            for name, values in fields:
                if "\x00" in name or _has_nul(values):
                    return True
        return False


class PrivatePagesAreNotCachedMiddleware:
    """Pages seen by a signed-in user are never stored by the browser or a proxy (SECURITY.md G5)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
