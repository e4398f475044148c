import json

from django.db import connection, models, transaction

from audit.chain import GENESIS, HASHED_FIELDS, chain_for, content_digest, event_hash, link, stored_json
from audit.enums import EventType
from audit.models import AuditChainHead, AuditEvent
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
    event can be matched with the server's logs. The event is chained (`append_event`).
    """
    context = context or RequestContext.none()
    return append_event(
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


def append_event(**fields) -> AuditEvent:
    """Write an AuditEvent with `fields` at the end of its chain (audit/chain.py); the only writer of the table.

    The chain's head row is locked until the caller's transaction ends, so that two transactions never
    append after the same event: the second waits for the first to commit (or roll back) and reads the
    head it left. Events of other chains do not wait. On PostgreSQL, one statement (`_APPEND`) creates or
    locks and moves the head and inserts the event, the event's hash computed there from its content's digest
    computed here: one round trip, the same as an unchained insert.
    """
    event = AuditEvent(**fields)
    event.data = stored_json(event.data)
    event.chain = chain_for(ej_id=event.ej_id, actor_id=event.actor_id, created_at=event.created_at)
    digest = content_digest(vars(event))
    # savepoint=False: a failed append fails the change it records (and, outside a transaction, the ORM's three
    # statements get one, without which the head's lock would end with the first).
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_APPEND, _parameters(event, digest))
                event.pk, event.chain_index, event.previous_hash, event.hash = cursor.fetchone()
            event._state.adding, event._state.db = False, connection.alias
        else:
            _append_with_the_orm(event)
    if event.hash != link(event.previous_hash, digest):
        raise AssertionError(f"audit chain {event.chain}: the database's hash differs from audit.chain.link")
    return event


# Plain SQL, one statement: the head's upsert creates the chain's head or locks it, takes the next id and computes
# the new hash from the old one (in DO UPDATE, every expression reads the row as it was: "previous_hash" =
# h."hash" keeps the old hash to return it); the INSERT of the event reads them back. Every parameter is cast:
# a prepared statement (DB_PREPARE_THRESHOLD) refuses one parameter deduced as two types.
_APPEND = """
WITH head AS (
    INSERT INTO "audit_auditchainhead" AS h
        ("chain", "length", "previous_hash", "hash", "last_event_id", "last_created_at", "last_event_type")
    VALUES (
        %(chain)s::text, 1, %(genesis)s::text,
        encode(sha256(convert_to(%(genesis)s::text || %(digest)s::text, 'UTF8')), 'hex'),
        nextval(pg_get_serial_sequence('audit_auditevent', 'id')), %(created_at)s, %(event_type)s::text
    )
    ON CONFLICT ("chain") DO UPDATE SET
        "length" = h."length" + 1,
        "previous_hash" = h."hash",
        "hash" = encode(sha256(convert_to(h."hash" || %(digest)s::text, 'UTF8')), 'hex'),
        "last_event_id" = EXCLUDED."last_event_id",
        "last_created_at" = EXCLUDED."last_created_at",
        "last_event_type" = EXCLUDED."last_event_type"
    RETURNING "last_event_id", "length", "previous_hash", "hash"
)
INSERT INTO "audit_auditevent" ("id", "created_at", "actor_id", "ip_address", "request_id", "ej_id", "event_type",
    "object_type", "object_id", "object_repr", "data", "chain", "chain_index", "previous_hash", "hash")
SELECT "last_event_id", %(created_at)s, %(actor_id)s, %(ip_address)s::inet, %(request_id)s::text, %(ej_id)s,
    %(event_type)s::text, %(object_type)s::text, %(object_id)s::text, %(object_repr)s::text, %(data)s::jsonb,
    %(chain)s::text, "length", "previous_hash", "hash"
FROM head
RETURNING "id", "chain_index", "previous_hash", "hash"
"""
# The event's columns passed as they are (`data` is passed as JSON text; the chain's columns come from the head).
_COLUMNS = tuple(field for field in HASHED_FIELDS if field not in {"previous_hash", "data"})


def _parameters(event: AuditEvent, digest: str) -> dict:
    return {
        **{column: getattr(event, column) for column in _COLUMNS},
        "data": json.dumps(event.data),
        "digest": digest,
        "genesis": GENESIS,
    }


def _append_with_the_orm(event: AuditEvent) -> None:
    """The same, in three statements, where the database has no sha256() (SQLite: the demo, one writer at a
    time)."""
    AuditChainHead.objects.bulk_create([AuditChainHead(chain=event.chain, hash=GENESIS)], ignore_conflicts=True)
    head = AuditChainHead.objects.select_for_update().get(chain=event.chain)
    event.chain_index = head.length + 1
    event.previous_hash = head.hash
    event.hash = event_hash(vars(event))
    event.save(force_insert=True)
    AuditChainHead.objects.filter(chain=event.chain).update(
        length=event.chain_index,
        previous_hash=head.hash,
        hash=event.hash,
        last_event_id=event.pk,
        last_created_at=event.created_at,
        last_event_type=event.event_type,
    )
