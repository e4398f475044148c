import factory

from audit.enums import EventType
from audit.models import AuditEvent
from audit.services import append_event


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    event_type = EventType.LOGIN_SUCCEEDED
    data = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Chained like every event of the application (the only writer of the table).
        return append_event(**kwargs)
