from django.utils.cache import add_never_cache_headers


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
