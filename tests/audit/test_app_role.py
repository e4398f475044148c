"""The application's database role cannot rewrite history (audit/roles.py, `manage.py grant_app_role`).

A throw-away role (roles are shared by the whole PostgreSQL cluster: a name unique to this process and test,
dropped at the end) gets the application's grants on the test database; the test then connects as that role
and tries what an attacker holding the portal's connection (an SQL injection, a stolen DATABASE_URL) would.
"""

import io
import os
import secrets

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from audit.enums import EventType
from audit.integrity import verify
from audit.models import AuditChainHead, AuditEvent
from audit.roles import table_privileges
from audit.services import record_event
from evaluation.enums import NoticeKind
from evaluation.models import Notice
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory
from tests.evaluation.factories import IndicatorValueFactory, IndicatorValueHistoryFactory, TransitionFactory


APPEND_ONLY = ["audit_auditevent", "evaluation_indicatorvaluehistory", "evaluation_notice", "evaluation_transition"]


@pytest.fixture
def app_role():
    name = f"ecars_app_test_{os.getpid()}_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN')
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')  # its grants and default privileges in this database
        cursor.execute(f'DROP ROLE "{name}"')


def connect_as(role):
    settings = connection.settings_dict
    return psycopg.connect(
        host="127.0.0.1", port=settings["PORT"] or 5432, user=role, dbname=settings["NAME"], autocommit=True
    )


def grant(role, *args):
    out = io.StringIO()
    call_command("grant_app_role", role, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_app_role_appends_to_the_history_but_never_rewrites_it(app_role):
    value = IndicatorValueFactory()
    rows = {
        "audit_auditevent": record_event(EventType.VALUE_SAVED, ej=EntiteJuridiqueFactory()).pk,
        "evaluation_transition": TransitionFactory().pk,
        "evaluation_indicatorvaluehistory": IndicatorValueHistoryFactory().pk,
        "evaluation_notice": Notice.objects.create(
            self_evaluation=value.self_evaluation,
            kind=NoticeKind.OUVERTURE,
            recipient=UserFactory(),
            deadline=timezone.localdate(),
        ).pk,
    }

    dry_run = grant(app_role)
    assert (
        "Simulation" in dry_run and 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public"' in dry_run
    )
    assert table_privileges(app_role) == {}
    granted = AuditEvent.objects.filter(event_type=EventType.COMMAND_RUN, data__operation="grant_app_role")
    assert not granted.exists()
    out = grant(app_role, "--wet-run")
    assert granted.get().data == {"operation": "grant_app_role", "role": app_role, "append_only_tables": APPEND_ONLY}
    assert f"Tables en ajout seul (SELECT et INSERT seulement) : {', '.join(APPEND_ONLY)}" in out
    privileges = table_privileges(app_role)
    assert {table: privileges[table] for table in APPEND_ONLY} == dict.fromkeys(APPEND_ONLY, {"SELECT", "INSERT"})
    assert (
        privileges["evaluation_indicatorvalue"]
        == privileges["audit_auditchainhead"]
        == {
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
        }
    )

    with connect_as(app_role) as app:
        app.execute(
            "INSERT INTO audit_auditevent (created_at, request_id, event_type, object_type, object_id, object_repr, "
            "data, chain, previous_hash, hash) VALUES (now(), '', 'ops.command', '', '', '', '{}', '', '', '')"
        )
        refused = {}
        for table, row_id in rows.items():
            for statement in (
                f"UPDATE {table} SET id = id WHERE id = {row_id}",  # noqa: S608 - the test's own table names
                f"DELETE FROM {table} WHERE id = {row_id}",  # noqa: S608
                f"TRUNCATE {table} CASCADE",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege) as error:
                    app.execute(statement)
                refused[statement.split()[0], table] = str(error.value).splitlines()[0]
        # An ordinary table, and the chains' heads, stay writable.
        updated = app.execute("UPDATE evaluation_indicatorvalue SET comment = 'modifié' WHERE id = %s", [value.pk])
        assert updated.rowcount == 1
        assert app.execute("UPDATE audit_auditchainhead SET chain = chain").rowcount == AuditChainHead.objects.count()

    # Refused by the grants, before the append-only trigger could be reached.
    assert refused == {
        (verb, table): f"permission denied for table {table}"
        for table in APPEND_ONLY
        for verb in ("UPDATE", "DELETE", "TRUNCATE")
    }
    # The portal's own append, chain head included, works under the role.
    ej = EntiteJuridiqueFactory()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'SET LOCAL ROLE "{app_role}"')
        event = record_event(EventType.VALUE_SAVED, ej=ej)
    assert AuditChainHead.objects.get(chain=event.chain).last_event_id == event.pk
    # The only problem: the row the role inserted by hand, outside the chains.
    assert [problem.kind for problem in verify().problems] == ["inséré"]


def test_a_missing_or_superuser_role_is_refused():
    with pytest.raises(CommandError, match="n'existe pas"):
        grant("ecars_role_qui_n_existe_pas")
    with pytest.raises(CommandError, match="superutilisateur"):
        grant(connection.settings_dict["USER"], "--wet-run")
