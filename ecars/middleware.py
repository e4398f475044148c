from django.core.exceptions import SuspiciousOperation
from django.http import UnreadablePostError
from django.utils.cache import add_never_cache_headers

from audit.enums import EventType
from ecars.lib.http import client_ip
from ecars.lib.security import record_bounded_event, security_logger
from ecars.lib.url_objects import find_refused_object, registered


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


class SecurityHeadersMiddleware:
    """Headers that Django does not send by itself, on every response (first in MIDDLEWARE, so that
    static files, redirects and error pages get them too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
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


# URL arguments that are secrets (links sent by e-mail): never written to a log.
SECRET_URL_ARGUMENTS = {"key", "token", "uidb36"}
REFUSED_STATUSES = {403, 404}


def _log_safe(text: str) -> str:
    """One log line per event, whatever the client put in the URL (no CR/LF injection)."""
    return text.encode("unicode_escape").decode("ascii")


def _path_for_log(request, match) -> str:
    """The path, without the query string (it may carry codes) and with the segments holding a
    secret argument masked."""
    secrets = {str(value) for name, value in (match.kwargs if match else {}).items() if name in SECRET_URL_ARGUMENTS}
    secrets.discard("")
    segments = request.path.split("/")
    return _log_safe("/".join("[secret]" if any(s in segment for s in secrets) else segment for segment in segments))


class RefusedAccessMiddleware:
    """Every 403 and 404 answered to a signed-in user is logged with who, from where and what (SECURITY.md F2).

    When the URL names an object that exists but that the user may not see (another EJ's contract, for
    instance), an `ACCESS_REFUSED` audit event is also recorded with that object's EJ, so that the ARS
    of its region sees the attempt. Those events are bounded per user (`record_bounded_event`): probing
    cannot turn into a flood of undeletable rows. The answer itself is unchanged (404 stays 404).
    """

    AUDIT_WINDOW = 60  # seconds: at most one audit event per user per minute, the others counted

    def __init__(self, get_response):
        self.get_response = get_response
        registered()  # import the apps' url_objects modules now: an error there shows at start-up

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in REFUSED_STATUSES:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                self._record(request, response, user)
        return response

    def _record(self, request, response, user):
        match = getattr(request, "resolver_match", None)
        refused = find_refused_object(user, match.kwargs) if match is not None and match.kwargs else None
        ip = client_ip(request)
        path = _path_for_log(request, match)
        method = _log_safe(request.method or "")
        extra = {
            "user_id": user.pk,
            "user_public_id": str(user.public_id),
            "client_ip": ip,
            "method": method,
            "path": path,
            "status": response.status_code,
        }
        if refused is None:
            security_logger.info(
                "access refused: status=%s user=%s ip=%s method=%s path=%s",
                response.status_code,
                user.public_id,
                ip,
                method,
                path,
                extra=extra,
            )
            return
        object_id = str(refused.obj.public_id)
        ej_id = str(refused.ej.public_id)
        security_logger.warning(
            "access refused to an object of another EJ: status=%s user=%s ip=%s method=%s path=%s object=%s:%s ej=%s",
            response.status_code,
            user.public_id,
            ip,
            method,
            path,
            refused.kwarg,
            object_id,
            ej_id,
            extra={**extra, "object": f"{refused.kwarg}:{object_id}", "ej_public_id": ej_id},
        )
        record_bounded_event(
            EventType.ACCESS_REFUSED,
            key=("user", user.pk),
            window=self.AUDIT_WINDOW,
            actor=user,
            ej=refused.ej,
            target=refused.obj,
            ip_address=ip,
            data={"method": method, "path": path, "status": response.status_code},
        )
