import re
import uuid
from dataclasses import dataclass

from allauth.core.internal.httpkit import get_client_ip
from django.utils.cache import patch_cache_control


def client_ip(request) -> str | None:
    """The client's address, read as allauth's rate limits read it (trusted proxy count)."""
    return get_client_ip(request)


@dataclass(frozen=True)
class RequestContext:
    """What services keep of the request that asked for a write: where it came from and which one it was.

    Services take `acting_user` and this value, never the request: the same service serves a view, an
    admin action and a command (whose context is `RequestContext.none()` or the command's own id).
    """

    ip_address: str | None = None
    request_id: str = ""
    # For the e-mails that tell a user of a change to their account (« depuis … avec … », SECURITY.md A7).
    user_agent: str = ""

    @classmethod
    def none(cls) -> "RequestContext":
        return cls()


# A request id set by the reverse proxy is kept if it looks like one (it is logged and audited).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_of(request) -> str:
    """This request's id: the proxy's X-Request-ID when well-formed, else one made here (once per request)."""
    request_id = getattr(request, "request_id", None)
    if request_id is None:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
    return request_id


def request_context(request) -> RequestContext:
    return RequestContext(
        ip_address=client_ip(request),
        request_id=request_id_of(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
    )


def protect_user_file(response):
    """Headers for a file made by or for a user, served from the portal's origin (SECURITY.md E8):
    never sniffed, never rendered with scripts or plugins, never embedded elsewhere, never cached."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    patch_cache_control(response, private=True, no_store=True)
    return response
