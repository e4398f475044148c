from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme


def get_safe_url(request, url: str | None, fallback: str) -> str:
    """Return `url` if it stays on this site, else `fallback` (never an open redirect)."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure() or settings.HTTPS
    ):
        return url
    return fallback
