from django.conf import settings

from accounts.middleware import session_seconds_left


def session(request):
    """How long the session has left, for the expiry warning of the layout.

    Error pages may be rendered before the session and the user are loaded (a request for a host
    not allowed, a NUL byte): then there is no user, and no warning.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    return {
        "session_seconds_left": session_seconds_left(request),
        "session_warning_seconds": settings.SESSION_EXPIRY_WARNING,
    }
