from allauth.core.internal.httpkit import get_client_ip


def client_ip(request) -> str | None:
    """The client's address, read as allauth's rate limits read it (trusted proxy count)."""
    return get_client_ip(request)
