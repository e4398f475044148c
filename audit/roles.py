"""The privileges of the application's database role (SECURITY.md F4, G4): it may not rewrite history.

Two PostgreSQL roles (README « Rôles de la base ») :

- the **owner** owns the database and its tables; it runs `manage.py migrate` (DDL, the append-only triggers,
  the migration that chained the audit trail) and this module's grants; the portal never uses it;
- the **application role** (the portal, the tasks worker and the scheduled commands: DATABASE_URL) gets
  SELECT, INSERT, UPDATE and DELETE on every table and USAGE on every sequence, except on the append-only
  tables (those with the `ecars_refuse_change` trigger of ecars/lib/append_only.py: the audit trail, the
  transitions, the answers' history, the calendar notices), where it gets SELECT and INSERT only — no
  UPDATE, DELETE or TRUNCATE. Even with the trigger disabled (only the owner can), the application could
  not change those rows. The chains' heads (audit_auditchainhead) stay updatable: every append updates them.

The append-only tables are found in the database (their trigger), so that a table made append-only by a
later migration is covered when the grants are applied again; default privileges give the role its DML on
tables that later migrations create. Apply again after every migration that adds an append-only table
(`manage.py grant_app_role ROLE --wet-run`, run as the owner; it is idempotent).
"""

import re

from django.db import connection


APPEND_ONLY_FUNCTION = "ecars_refuse_change"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(Exception):
    pass


def append_only_tables(cursor) -> list[str]:
    cursor.execute(
        """
        SELECT DISTINCT c.relname FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE p.proname = %s AND NOT t.tgisinternal AND n.nspname = current_schema()
        ORDER BY c.relname
        """,
        [APPEND_ONLY_FUNCTION],
    )
    return [name for (name,) in cursor.fetchall()]


def grant_statements(role: str) -> tuple[list[str], list[str]]:
    """(the SQL statements, the append-only tables) that give `role` the application's privileges on this
    connection's database and current schema. Checks that the role exists and that grants would bind it."""
    if connection.vendor != "postgresql":
        raise RoleError("les droits par rôle n'existent que sur PostgreSQL")
    if not ROLE_NAME.match(role):
        raise RoleError(f"nom de rôle invalide : « {role} » (lettres minuscules, chiffres et _)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
        if found is None:
            raise RoleError(f"le rôle « {role} » n'existe pas : créez-le d'abord (README « Rôles de la base »)")
        if found[0]:
            raise RoleError(f"le rôle « {role} » est superutilisateur : aucun droit ne le limiterait")
        cursor.execute(
            "SELECT tableowner, current_database(), current_schema() FROM pg_tables "
            "WHERE tablename = 'audit_auditevent' AND schemaname = current_schema()"
        )
        found = cursor.fetchone()
        if found is None:
            raise RoleError("la table audit_auditevent n'existe pas : appliquez d'abord les migrations")
        owner, database, schema = found
        cursor.execute("SELECT pg_has_role(%s, %s, 'USAGE')", [role, owner])
        if cursor.fetchone()[0]:
            raise RoleError(
                f"le rôle « {role} » a les droits du propriétaire des tables (« {owner} ») : il faut un rôle distinct"
            )
        tables = append_only_tables(cursor)
    if not tables:
        raise RoleError("aucune table en ajout seul trouvée : les migrations ont-elles été appliquées ?")
    quote = connection.ops.quote_name
    role_q, owner_q, schema_q = quote(role), quote(owner), quote(schema)
    statements = [
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {role_q}",
        f"GRANT USAGE ON SCHEMA {schema_q} TO {role_q}",
        # From a clean slate, so that applying again removes what an earlier version granted.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema_q} FROM {role_q}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema_q} TO {role_q}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {', '.join(quote(table) for table in tables)} FROM {role_q}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_q} TO {role_q}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_q} IN SCHEMA {schema_q} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role_q}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_q} IN SCHEMA {schema_q} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {role_q}",
    ]
    return statements, tables


def table_privileges(role: str) -> dict[str, set[str]]:
    """{table: {privilege, …}} of `role` in the current schema, as information_schema reports them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_schema = current_schema()",
            [role],
        )
        privileges: dict[str, set[str]] = {}
        for table, privilege in cursor.fetchall():
            privileges.setdefault(table, set()).add(privilege)
    return privileges
