from django.db import models

from audit.enums import EventType
from audit.models import AuditEvent
from ecars.lib.http import RequestContext


def record_event(
    event_type: EventType,
    *,
    actor=None,
    ej=None,
    target: models.Model | None = None,
    data: dict | None = None,
    context: RequestContext | None = None,
) -> AuditEvent:
    """Append an audit event. Call it inside the transaction of the change it records.

    `context` says where the request came from (its IP address) and which request it was, so that the
    event can be matched with the server's logs.
    """
    context = context or RequestContext.none()
    return AuditEvent.objects.create(
        event_type=event_type,
        actor=actor if actor is not None and actor.is_authenticated else None,
        ip_address=context.ip_address,
        request_id=context.request_id,
        ej=ej,
        object_type=target._meta.label if target is not None else "",
        object_id=str(getattr(target, "public_id", None) or target.pk) if target is not None else "",
        object_repr=str(target)[:255] if target is not None else "",
        data=data or {},
    )
