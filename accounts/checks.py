from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.security, deploy=True)
def rate_limits_need_a_shared_cache(app_configs, **kwargs):
    """SECURITY.md A11: with a per-process cache, each gunicorn worker would count attempts apart."""
    if settings.CACHES["default"]["BACKEND"] in PER_PROCESS_CACHES:
        return [
            Error(
                "The default cache is per process: login and code rate limits would not hold across workers.",
                hint="Set CACHE_URL to a shared cache, e.g. redis://127.0.0.1:6379/0.",
                id="accounts.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def client_addresses_behind_the_proxy(app_configs, **kwargs):
    """Behind the reverse proxy, TRUSTED_PROXY_COUNT=0 makes every user share the proxy's address."""
    if settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0:
        return [
            Warning(
                "TRUSTED_PROXY_COUNT is 0: behind a reverse proxy every client would have the proxy's address, "
                "and the per-address limits (logins, codes) would apply to all users at once.",
                hint="Set TRUSTED_PROXY_COUNT to the number of trusted proxies (README « Production »).",
                id="accounts.W002",
            )
        ]
    return []
