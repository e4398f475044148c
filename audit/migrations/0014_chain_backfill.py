"""Chain the audit events written before the hash chain existed (audit/chain.py), in the order of their ids.

The table refuses UPDATE (trigger of migration 0002): on PostgreSQL this migration disables that trigger for
its own transaction, as the table's owner (the role that runs the migrations, README « Rôles de la base »),
and enables it again before committing; if anything fails, the whole transaction, trigger included, is rolled
back. ALTER TABLE locks the table meanwhile: the portal's writes wait for the migration. On SQLite (the demo)
there is no trigger, and the rows are updated as they are.
"""

from django.db import migrations

from audit.chain import GENESIS, chain_for, event_hash, stored_json


BATCH = 1000
FIELDS = (
    "id",
    "created_at",
    "actor_id",
    "ip_address",
    "request_id",
    "ej_id",
    "event_type",
    "object_type",
    "object_id",
    "object_repr",
    "data",
)
TRIGGER = "audit_auditevent_append_only"


def _write(schema_editor, AuditEvent, rows):
    if schema_editor.connection.vendor == "postgresql":
        values = ", ".join(["(%s::bigint, %s, %s::bigint, %s, %s)"] * len(rows))
        # Only placeholders are formatted into the statement.
        statement = (
            "UPDATE audit_auditevent AS e SET chain = v.chain, chain_index = v.chain_index, "  # noqa: S608
            "previous_hash = v.previous_hash, hash = v.hash "
            f"FROM (VALUES {values}) AS v(id, chain, chain_index, previous_hash, hash) WHERE e.id = v.id"
        )
        schema_editor.execute(statement, params=[value for row in rows for value in row])
    else:
        AuditEvent.objects.bulk_update(
            [
                AuditEvent(id=id, chain=chain, chain_index=index, previous_hash=previous, hash=digest)
                for id, chain, index, previous, digest in rows
            ],
            ["chain", "chain_index", "previous_hash", "hash"],
        )


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
    heads = {}  # chain → [length, hash, last event's values]
    pending = []
    events = AuditEvent.objects.filter(chain="").order_by("id").values(*FIELDS)
    for values in events.iterator(chunk_size=BATCH):
        values["data"] = stored_json(values["data"])
        chain = chain_for(ej_id=values["ej_id"], actor_id=values["actor_id"], created_at=values["created_at"])
        head = heads.setdefault(chain, [0, GENESIS, None])
        values["chain"] = chain
        values["previous_hash"] = head[1]
        digest = event_hash(values)
        head[:] = [head[0] + 1, digest, values]
        pending.append((values["id"], chain, head[0], values["previous_hash"], digest))
        if len(pending) == BATCH:
            _write(schema_editor, AuditEvent, pending)
            pending = []
    if pending:
        _write(schema_editor, AuditEvent, pending)
    AuditChainHead.objects.bulk_create(
        [
            AuditChainHead(
                chain=chain,
                length=length,
                hash=digest,
                previous_hash=last["previous_hash"],
                last_event_id=last["id"],
                last_created_at=last["created_at"],
                last_event_type=last["event_type"],
            )
            for chain, (length, digest, last) in heads.items()
        ],
        batch_size=BATCH,
    )
    if postgresql:
        schema_editor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0013_chain")]

    operations = [migrations.RunPython(chain_existing_events, migrations.RunPython.noop, elidable=False)]
