"""The audit event of a write made through a model's admin pages (add, change, delete): `ecars.admin.admin_write`."""

from audit.enums import EventType
from audit.models import AuditEvent
from audit.services import record_event
from ecars.lib.http import request_context
from ecars.lib.url_objects import registered


def _ej_of(obj):
    """The EJ the object belongs to, when the apps' URL objects tell it (an EJ, a contract, a self-evaluation…) or
    the object has an `ej`: the ARS of its region then sees the event (AuditEventAdmin is scoped by the EJ)."""
    objects = registered()
    for entry in objects.values():
        if isinstance(obj, entry.model):
            return entry.ej_of(obj)
    ej_model = objects["ej"].model if "ej" in objects else None
    ej = getattr(obj, "ej", None)
    return ej if ej_model is not None and isinstance(ej, ej_model) else None


def record_admin_write(request, obj, *, action: str, message) -> None:
    """One ADMIN_CHANGED event for `obj`, unless a service already audited it in this request (a user's account,
    the login rule: their admins save through services that write their own, more precise, event)."""
    context = request_context(request)
    object_id = str(getattr(obj, "public_id", None) or obj.pk)
    already = AuditEvent.objects.filter(
        request_id=context.request_id, object_type=obj._meta.label, object_id=object_id
    ).exists()
    if already:
        return
    record_event(
        EventType.ADMIN_CHANGED,
        actor=request.user,
        ej=_ej_of(obj),
        target=obj,
        context=context,
        data={"action": action, "changes": message if isinstance(message, list) else str(message)},
    )
