from django.conf import settings

from accounts.middleware import session_seconds_left


def session(request):
    """How long the session has left, for the expiry warning of the layout."""
    if not request.user.is_authenticated or not hasattr(request, "session"):
        return {}
    return {
        "session_seconds_left": session_seconds_left(request),
        "session_warning_seconds": settings.SESSION_EXPIRY_WARNING,
    }
