"""Database-enforced append-only tables (PostgreSQL).

A trigger refuses UPDATE and DELETE on the table, so that an audit trail cannot be rewritten by the
application, by the admin or by a mistaken script. TRUNCATE (used by test isolation and by an
audited purge procedure) is not affected. On SQLite (demo only) nothing is installed.
"""

from django.db import migrations


_FUNCTION = """
CREATE OR REPLACE FUNCTION ecars_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def make_append_only(*tables: str) -> migrations.RunPython:
    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ecars_refuse_change()"
            )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    return migrations.RunPython(forwards, backwards, elidable=False)
