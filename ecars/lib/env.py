"""Typed readers for environment variables.

Each reader raises ImproperlyConfigured on a malformed value, so that a typo in a deployment
fails at start-up instead of silently falling back to a default.
"""

import os

from django.core.exceptions import ImproperlyConfigured


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable, or the content of the file named by NAME_FILE (Docker secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {e}") from e
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from e


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def cache_config(url: str) -> dict:
    """Translate CACHE_URL into a Django CACHES entry.

    redis://host:port/db (or rediss://) uses Django's own Redis backend: the shared cache that
    allauth's rate limits need across gunicorn workers. locmem:// is for a single process only
    (development, demo); db://table uses the database cache table.
    """
    scheme, _, rest = url.partition("://")
    if scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": rest or "ecars"}
    if scheme == "db":
        return {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": rest or "ecars_cache"}
    if scheme == "dummy":
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(f"CACHE_URL scheme not supported: {url!r} (redis://, rediss://, locmem://, db://)")
