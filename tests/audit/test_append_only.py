import pytest
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from evaluation.models import IndicatorValueHistory, Transition
from tests.audit.factories import AuditEventFactory
from tests.evaluation.factories import IndicatorValueHistoryFactory, TransitionFactory


@pytest.mark.parametrize(
    "factory,model",
    [
        (AuditEventFactory, AuditEvent),
        (TransitionFactory, Transition),
        (IndicatorValueHistoryFactory, IndicatorValueHistory),
    ],
)
def test_audit_trails_refuse_update_and_delete_in_the_database(factory, model):
    row = factory()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk).update(id=row.pk)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk).delete()
    assert model.objects.filter(pk=row.pk).exists()
