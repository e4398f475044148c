"""`manage.py audit_head`: the day's digest of every chain's head, logged and exported; `verify_audit --heads`
checks the database against an export kept elsewhere, which catches a chain rewritten with recomputed hashes."""

import datetime
import hashlib
import io
import json
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from audit.chain import event_hash
from audit.enums import EventType
from audit.models import AuditChainHead, AuditEvent
from audit.services import append_event
from tests.accounts.factories import UserFactory
from tests.audit.test_verify_audit import run as verify
from tests.contracts.factories import EntiteJuridiqueFactory


DAY = datetime.date(2026, 12, 3)


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def head(*args):
    out = io.StringIO()
    call_command("audit_head", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def events():
    """An EJ's chain with two events on DAY and one the next day; a user's chain with one event on DAY."""
    ej, user = EntiteJuridiqueFactory(), UserFactory()
    return {
        "ej_1": append_event(event_type=EventType.VALUE_SAVED, ej=ej, created_at=at(DAY, 9)),
        "ej_2": append_event(event_type=EventType.VALUE_SAVED, ej=ej, created_at=at(DAY, 23, 59)),
        "ej_next_day": append_event(
            event_type=EventType.VALUE_SAVED, ej=ej, created_at=at(DAY + datetime.timedelta(days=1), 0, 1)
        ),
        "user": append_event(event_type=EventType.LOGIN_SUCCEEDED, actor=user, created_at=at(DAY, 8)),
    }


def test_the_digest_covers_each_chains_last_event_of_the_day_and_is_logged(events, caplog):
    with caplog.at_level(logging.INFO, logger="ecars.audit"):
        exported = json.loads(head("--date", DAY.isoformat(), "--format", "json"))
    ej_2, user_event = events["ej_2"], events["user"]
    assert exported["heads"] == [
        {"chain": ej_2.chain, "index": 2, "event_id": ej_2.pk, "hash": ej_2.hash},
        {"chain": user_event.chain, "index": 1, "event_id": user_event.pk, "hash": user_event.hash},
    ]
    assert (exported["date"], exported["chains"], exported["events"]) == ("2026-12-03", 2, 3)
    assert exported["end"] == "2026-12-03T23:00:00+00:00"  # midnight in Paris
    lines = "\n".join(
        ["ecars-audit-heads-v1 2026-12-03", f"{ej_2.chain} 2 {ej_2.pk} {ej_2.hash}"]
        + [f"{user_event.chain} 1 {user_event.pk} {user_event.hash}"]
    )
    assert exported["digest"] == hashlib.sha256(lines.encode()).hexdigest()
    records = [record for record in caplog.records if record.name == "ecars.audit"]
    assert [record.getMessage() for record in records] == [
        f"audit head 2026-12-03: digest={exported['digest']} chains=2 events=3"
    ]
    text = head("--date", DAY.isoformat())
    assert f"Tête du journal d'audit au 03/12/2026 (fin de journée, heure de Paris) : {exported['digest']}" in text
    # The next day's head moves on to the event of 00:01.
    assert json.loads(head("--date", "2026-12-04", "--format", "json"))["events"] == 4


def test_a_day_not_over_is_refused(events):
    with pytest.raises(CommandError, match="n'est pas terminé"):
        head("--date", timezone.localdate().isoformat())


def rewrite_tail(event: AuditEvent, data: dict) -> None:
    """What an attacker with the superuser would do to hide a change from verify_audit: rewrite the event,
    recompute its hash and the chain after it, and the head."""
    rows = list(
        AuditEvent.objects.filter(chain=event.chain, chain_index__gte=event.chain_index).order_by("chain_index")
    )
    previous = rows[0].previous_hash
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for number, row in enumerate(rows):
            if number == 0:
                row.data = data
            row.previous_hash = previous
            row.hash = previous = event_hash(vars(row))
            cursor.execute(
                "UPDATE audit_auditevent SET data = %s, previous_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(row.data), row.previous_hash, row.hash, row.pk],
            )
        cursor.execute("SET LOCAL session_replication_role = origin")
    AuditChainHead.objects.filter(chain=event.chain).update(hash=previous)


def test_a_rewritten_chain_passes_verify_audit_but_not_the_exported_heads(events, tmp_path):
    export = tmp_path / "tetes-2026-12-03.json"
    head("--date", DAY.isoformat(), "--output", str(export))
    out, error = verify("--heads", str(export))
    assert error is None and "Têtes du 2026-12-03 : identiques à celles du fichier" in out

    rewrite_tail(events["ej_1"], {"valeur": "réécrite"})
    out, error = verify()
    assert error is None  # self-consistent: the chain alone cannot tell
    out, error = verify("--heads", str(export))
    assert error is not None
    ej_2 = events["ej_2"]
    assert (
        f"[tête de chaîne] chaîne {ej_2.chain} au 03/12/2026 : tête exportée rang 2, #{ej_2.pk}, empreinte "
        f"{ej_2.hash[:12]}… ; tête recalculée rang 2, #{ej_2.pk}, empreinte "
    ) in out
    assert AuditEvent.objects.get(pk=ej_2.pk).hash[:12] in out
    # The daily export refuses to overwrite its earlier file with the new digest.
    with pytest.raises(CommandError, match="le journal d'audit a changé depuis"):
        head("--date", DAY.isoformat(), "--output", str(export))
    assert json.loads(export.read_text())["heads"][0]["hash"] == ej_2.hash


def test_an_export_of_the_same_day_is_written_once_and_kept(events, tmp_path):
    head("--date", DAY.isoformat(), "--output", str(tmp_path / "tetes-{date}.json"))
    export = tmp_path / "tetes-2026-12-03.json"
    written = export.read_text()
    head("--date", DAY.isoformat(), "--output", str(export))
    assert export.read_text() == written
    assert json.loads(written)["date"] == "2026-12-03"


def test_an_edited_export_file_is_reported(events, tmp_path):
    export = tmp_path / "tetes.json"
    head("--date", DAY.isoformat(), "--output", str(export))
    exported = json.loads(export.read_text())
    exported["heads"].pop()
    export.write_text(json.dumps(exported))
    out, error = verify("--heads", str(export))
    assert error is not None
    assert "le fichier exporté a été modifié" in out
    assert f"chaîne {events['user'].chain} au 03/12/2026 : tête exportée aucune ; tête recalculée rang 1" in out
