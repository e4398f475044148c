"""`manage.py verify_audit` (audit/integrity.py): a modified, removed or inserted event is named (id, date, type,
chain) and the exit status is 1; an intact trail gives a summary line and 0.

The tampering goes through a privileged connection, as an attacker with the database's superuser would:
`session_replication_role = replica` turns the append-only triggers off for the test's transaction.
"""

import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import formats, timezone

from audit.chain import event_hash
from audit.enums import EventType
from audit.models import AuditChainHead, AuditEvent
from audit.services import record_event
from tests.accounts.factories import UserFactory
from tests.contracts.factories import EntiteJuridiqueFactory


def run(*args) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=io.StringIO(), no_color=True)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def tamper(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def named(event: AuditEvent) -> str:
    """How the report names an event: id, date, type, chain."""
    moment = formats.date_format(timezone.localtime(event.created_at), "d/m/Y H:i:s")
    return f"#{event.pk} du {moment} ({event.get_event_type_display()}), chaîne {event.chain}"


@pytest.fixture
def trail():
    """Four events of an EJ's chain, one of a user's chain, one anonymous."""
    ej = EntiteJuridiqueFactory()
    user = UserFactory()
    events = [
        record_event(EventType.VALUE_SAVED, actor=user, ej=ej, data={"valeur": str(number)}) for number in range(4)
    ]
    record_event(EventType.LOGIN_SUCCEEDED, actor=user)
    record_event(EventType.LOGIN_FAILED, data={"email": "inconnu@exemple.fr"})
    return events


def test_an_intact_trail_says_so_and_exits_zero(trail):
    out, error = run()
    assert error is None
    assert "Journal d'audit intact : 6 événement(s) dans 3 chaîne(s) vérifiés." in out


def test_a_modified_event_is_named(trail):
    tamper("UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"valeur": "9"}', trail[1].pk])
    out, error = run()
    assert error is not None and error.returncode == 1
    assert f"[modifié] {named(trail[1])} : contenu modifié" in out
    assert "1 anomalie(s)" in str(error)


def test_a_modified_event_whose_hash_was_recomputed_is_named(trail):
    event = AuditEvent.objects.get(pk=trail[1].pk)
    event.data = {"valeur": "9"}
    tamper(
        "UPDATE audit_auditevent SET data = %s, hash = %s WHERE id = %s",
        ['{"valeur": "9"}', event_hash(vars(event)), event.pk],
    )
    out, error = run()
    assert error is not None
    assert f"[modifié] {named(trail[1])} : modifié ou remplacé, empreinte comprise" in out
    assert f"#{trail[2].pk}, pointe vers une autre empreinte" in out


def test_a_removed_event_is_named_by_its_place(trail):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [trail[1].pk])
    out, error = run()
    assert error is not None
    assert (
        f"[supprimé] chaîne {trail[0].chain} : 1 événement(s) supprimé(s) (rang 2), après {named(trail[0])}, "
        f"avant {named(trail[2])}"
    ) in out


def test_the_removal_of_a_chains_last_events_is_named(trail):
    tamper("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [trail[2].pk, trail[3].pk])
    out, error = run()
    assert error is not None
    assert (
        f"[supprimé] chaîne {trail[0].chain} : 2 dernier(s) événement(s) supprimé(s) (rangs 3 à 4, après "
        f"{named(trail[1])}) ; le dernier était {named(trail[3])}"
    ) in out


def test_an_event_inserted_without_the_application_is_named(trail):
    with connection.cursor() as cursor:  # INSERT is allowed: no need to turn the trigger off
        cursor.execute(
            "INSERT INTO audit_auditevent (created_at, request_id, event_type, object_type, object_id, object_repr, "
            "data, chain, previous_hash, hash) VALUES (now(), '', 'ej.member_added', '', '', '', '{}', '', '', '') "
            "RETURNING id"
        )
        (forged_id,) = cursor.fetchone()
    out, error = run()
    assert error is not None
    assert f"[inséré] {named(AuditEvent.objects.get(pk=forged_id))} : inséré sans chaînage" in out


def test_an_event_slipped_into_a_chain_is_named(trail):
    """A careful forger: makes room in the ranks, links the new event to its predecessor with a right hash.
    The next event still points over it."""
    forged = AuditEvent(
        created_at=trail[1].created_at + datetime.timedelta(seconds=1),
        actor=trail[1].actor,
        ej=trail[1].ej,
        event_type=EventType.VALUE_SAVED,
        data={"valeur": "faux"},
        chain=trail[1].chain,
        chain_index=3,
        previous_hash=trail[1].hash,
    )
    forged.hash = event_hash(vars(forged))
    # The ranks are unique row by row: moved out of the way, then back one further.
    tamper(
        "UPDATE audit_auditevent SET chain_index = chain_index + 1000 WHERE chain = %s AND chain_index >= 3",
        [forged.chain],
    )
    tamper(
        "UPDATE audit_auditevent SET chain_index = chain_index - 999 WHERE chain = %s AND chain_index > 1000",
        [forged.chain],
    )
    forged.save(force_insert=True)
    AuditChainHead.objects.filter(chain=forged.chain).update(length=5)
    out, error = run()
    assert error is not None
    assert f"[inséré] {named(forged)} : inséré dans la chaîne (l'événement suivant ne pointe pas vers lui)" in out
    assert "1 anomalie(s)" in str(error)


def test_an_event_added_after_the_head_is_named(trail):
    last = trail[3]
    forged = AuditEvent(
        created_at=timezone.now(),
        ej=last.ej,
        event_type=EventType.VALUE_SAVED,
        chain=last.chain,
        chain_index=5,
        previous_hash=last.hash,
    )
    forged.hash = event_hash(vars(forged))
    forged.save(force_insert=True)
    out, error = run()
    assert error is not None
    assert f"[inséré] {named(forged)} : inséré après le dernier événement que la tête de chaîne connaît" in out


def test_a_chain_can_be_checked_alone_and_a_period_alone(trail):
    tamper("UPDATE audit_auditevent SET data = '{}' WHERE id = %s", [trail[1].pk])
    out, error = run("--chain", f"user:{trail[0].actor_id}")
    assert error is None and "1 événement(s) dans 1 chaîne(s)" in out
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    out, error = run("--since", tomorrow)
    assert error is None and "0 événement(s) dans 0 chaîne(s)" in out
    out, error = run("--since", timezone.localdate().isoformat(), "--chain", trail[0].chain)
    assert error is not None and f"[modifié] {named(trail[1])}" in out


def test_a_period_starting_after_a_removed_event_names_it(trail):
    earlier = timezone.now() - datetime.timedelta(days=3)
    tamper("UPDATE audit_auditevent SET created_at = %s WHERE id IN (%s, %s)", [earlier, trail[0].pk, trail[1].pk])
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [trail[1].pk])
    out, error = run("--since", (timezone.localdate() - datetime.timedelta(days=1)).isoformat())
    assert error is not None
    assert f"1 événement(s) supprimé(s) (rang 2), avant {named(AuditEvent.objects.get(pk=trail[2].pk))}" in out
