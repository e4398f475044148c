"""Walk the URL configuration, so that tests cover every page, including pages added later."""

import itertools
import uuid
from dataclasses import dataclass

from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse


SAMPLE_UUID = str(uuid.UUID("00000000-0000-4000-8000-000000000000"))
_CANDIDATES = (SAMPLE_UUID, "1", "accounts", "x")


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    path: str  # a concrete URL built with sample arguments
    kwarg_names: tuple[str, ...]

    def __str__(self):
        return self.name


def _walk(patterns, namespace_prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{namespace_prefix}{entry.namespace}:" if entry.namespace else namespace_prefix
            yield from _walk(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace_prefix}{entry.name}", entry


def named_patterns():
    """Every named URL pattern of the project as ("namespace:name", pattern), in the order of resolution."""
    return _walk(get_resolver().url_patterns)


def _sample_path(name, kwarg_names):
    if not kwarg_names:
        return reverse(name)
    for values in itertools.product(_CANDIDATES, repeat=len(kwarg_names)):
        try:
            return reverse(name, kwargs=dict(zip(kwarg_names, values, strict=True)))
        except NoReverseMatch:
            continue
    raise AssertionError(f"No sample arguments fit the URL {name}")


def all_routes() -> list[Route]:
    """Every named URL of the project with a concrete sample path, deduplicated by name."""
    routes = {}
    for name, pattern in _walk(get_resolver().url_patterns):
        if name in routes:
            continue
        kwarg_names = tuple(pattern.pattern.regex.groupindex)
        routes[name] = Route(name=name, path=_sample_path(name, kwarg_names), kwarg_names=kwarg_names)
    return sorted(routes.values(), key=lambda r: r.name)
