from django.conf import settings
from django.core.checks import Error, Tags, register


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
