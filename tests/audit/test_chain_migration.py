"""The events written before the hash chain existed are chained by migration audit 0014, through the append-only
trigger (turned off for the migration's own transaction only), in the order of their ids."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.chain import GENESIS
from audit.integrity import verify
from audit.models import AuditChainHead, AuditEvent
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory


CHAINED = ("audit", "0014_chain_backfill")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_existing_events_are_chained_and_the_table_stays_append_only():
    ej, user = EntiteJuridiqueFactory(), UserFactory()
    before_chain = MigrationExecutor(connection).loader.graph.node_map[("audit", "0013_chain")].parents
    (unchained,) = [parent.key for parent in before_chain if parent.key[0] == "audit"]
    try:
        migrate([unchained])
        rows = [
            (ej.pk, user.pk, "2026-11-30 10:00:00+01", "evaluation.value_saved", '{"valeur": "1", "taux": 12.5}'),
            (None, user.pk, "2026-11-30 10:01:00+01", "auth.login", "{}"),
            (ej.pk, None, "2026-11-30 10:02:00+01", "document.infected", '{"nom": "rapport.pdf"}'),
            (None, None, "2026-11-30 23:59:00+01", "auth.login_failed", '{"email": "x@exemple.fr"}'),
            (None, None, "2026-12-01 00:01:00+01", "auth.login_failed", "{}"),
        ]
        with connection.cursor() as cursor:
            for ej_id, actor_id, created_at, event_type, data in rows:
                cursor.execute(
                    "INSERT INTO audit_auditevent (ej_id, actor_id, created_at, ip_address, request_id, event_type, "
                    "object_type, object_id, object_repr, data) "
                    "VALUES (%s, %s, %s, '10.0.0.1', 'req', %s, '', '', '', %s)",
                    [ej_id, actor_id, created_at, event_type, data],
                )
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert CHAINED in MigrationExecutor(connection).loader.applied_migrations

    events = list(AuditEvent.objects.order_by("id"))
    assert [(event.chain, event.chain_index) for event in events] == [
        (f"ej:{ej.pk}", 1),
        (f"user:{user.pk}", 1),
        (f"ej:{ej.pk}", 2),
        ("day:2026-11-30", 1),
        ("day:2026-12-01", 1),
    ]
    assert events[0].previous_hash == GENESIS and events[2].previous_hash == events[0].hash
    head = AuditChainHead.objects.get(chain=f"ej:{ej.pk}")
    assert (head.length, head.hash, head.last_event_id) == (2, events[2].hash, events[2].pk)
    assert verify().problems == []
    # The trigger is back.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=events[0].pk).update(data={})
