from allauth.core.internal.httpkit import get_client_ip
from django.utils.cache import patch_cache_control


def client_ip(request) -> str | None:
    """The client's address, read as allauth's rate limits read it (trusted proxy count)."""
    return get_client_ip(request)


def protect_user_file(response):
    """Headers for a file made by or for a user, served from the portal's origin (SECURITY.md E8):
    never sniffed, never rendered with scripts or plugins, never embedded elsewhere, never cached."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    patch_cache_control(response, private=True, no_store=True)
    return response
