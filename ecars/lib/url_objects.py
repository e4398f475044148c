"""URL arguments that name an object belonging to an EJ, so that a refused access can be attributed.

The project package knows no model of the apps: each app declares its own URL arguments in a
`url_objects` module (discovered like `admin.py`), e.g.

    register("contract", Contract, ej_field="ej", visible_to=Contract.objects.for_user)

The argument's value is the object's `public_id`; `ej_field` is the path from the model to its EJ
("" for the EJ itself); `visible_to(user)` is the queryset of the objects the user may see.
"""

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from django.core.exceptions import ValidationError
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class UrlObject:
    model: type
    ej_field: str
    visible_to: Callable

    def ej_of(self, obj):
        return obj if not self.ej_field else attrgetter(self.ej_field.replace("__", "."))(obj)


_registry: dict[str, UrlObject] = {}
_discovered = False


def register(kwarg: str, model, *, ej_field: str, visible_to: Callable) -> None:
    _registry[kwarg] = UrlObject(model=model, ej_field=ej_field, visible_to=visible_to)


def registered() -> dict[str, UrlObject]:
    global _discovered
    if not _discovered:
        autodiscover_modules("url_objects")
        _discovered = True
    return _registry


@dataclass(frozen=True)
class RefusedObject:
    kwarg: str
    obj: object
    ej: object


def find_refused_object(user, url_kwargs: dict) -> RefusedObject | None:
    """The first object named by the URL's arguments that exists but that `user` may not see."""
    for kwarg, value in url_kwargs.items():
        entry = registered().get(kwarg)
        if entry is None:
            continue
        manager = entry.model._default_manager
        queryset = manager.select_related(entry.ej_field) if entry.ej_field else manager.all()
        try:
            obj = queryset.filter(public_id=value).first()
        except (ValidationError, ValueError):  # not an identifier at all: names nothing
            continue
        if obj is None or entry.visible_to(user).filter(pk=obj.pk).exists():
            continue
        return RefusedObject(kwarg=kwarg, obj=obj, ej=entry.ej_of(obj))
    return None
