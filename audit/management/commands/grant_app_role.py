"""Give the application's database role its privileges (SECURITY.md F4, G4; audit/roles.py): `grant_app_role ROLE`.

Run as the role that owns the tables and runs the migrations, after `manage.py migrate`. ROLE (the role of the
portal's DATABASE_URL, created beforehand: README « Rôles de la base ») gets SELECT, INSERT, UPDATE, DELETE on
every table and USAGE on every sequence, but only SELECT and INSERT on the append-only tables (audit trail,
transitions, answers' history, calendar notices): it can never update, delete or truncate their rows. A dry run
by default (prints the SQL); --wet-run applies it, in one transaction with an `ops.command` audit event, and
prints the privileges that result.
Idempotent: run it again after each migration that adds an append-only table.
"""

from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.enums import EventType
from audit.roles import RoleError, grant_statements, table_privileges
from audit.services import record_event
from ecars.lib.commands import OpsCommand


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "role", metavar="ROLE", help="le rôle PostgreSQL de l'application (DATABASE_URL du portail)"
        )

    def handle_ops(self, *, wet_run, role, **options):
        try:
            statements, append_only = grant_statements(role)
        except RoleError as error:
            raise CommandError(f"Droits non appliqués : {error}.") from error
        self.stdout.write(f"Tables en ajout seul (SELECT et INSERT seulement) : {', '.join(append_only)}")
        self.stdout.write("Instructions :")
        for statement in statements:
            self.stdout.write(f"  {statement};")
        if not wet_run:
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            record_event(
                EventType.COMMAND_RUN,
                data={"operation": "grant_app_role", "role": role, "append_only_tables": append_only},
            )
        privileges = table_privileges(role)
        read_write = [table for table, granted in privileges.items() if {"UPDATE", "DELETE"} <= granted]
        append_only_granted = {table: sorted(privileges.get(table, ())) for table in append_only}
        for table, granted in append_only_granted.items():
            self.stdout.write(f"  {table} : {', '.join(granted) or 'aucun droit'}")
        self.summary(
            {
                f"tables en lecture et écriture pour {role}": len(read_write),
                f"tables en ajout seul pour {role}": len(append_only),
            },
            wet_run=wet_run,
        )
