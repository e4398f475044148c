import factory

from audit.enums import EventType
from audit.models import AuditEvent


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    event_type = EventType.LOGIN_SUCCEEDED
    data = factory.LazyFunction(dict)
