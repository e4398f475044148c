"""The audit trail's hash chains (audit/chain.py, audit.services.append_event): each event carries the SHA-256 of
the previous one of its chain; concurrent writers never fork a chain and writers of different chains never wait
for each other."""

import datetime
import decimal
import hashlib
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from audit.chain import GENESIS, canonical
from audit.enums import EventType
from audit.integrity import verify
from audit.models import AuditChainHead, AuditEvent
from audit.services import record_event
from ecars.lib.http import RequestContext
from tests.accounts.factories import UserFactory
from tests.audit.factories import AuditEventFactory
from tests.contracts.factories import EntiteJuridiqueFactory


def chain_rows(chain):
    return list(AuditEvent.objects.filter(chain=chain).order_by("chain_index"))


def assert_linked(chain, count):
    rows = chain_rows(chain)
    assert [row.chain_index for row in rows] == list(range(1, count + 1))
    assert [row.previous_hash for row in rows] == [GENESIS] + [row.hash for row in rows[:-1]]
    head = AuditChainHead.objects.get(chain=chain)
    assert (head.length, head.hash, head.last_event_id) == (count, rows[-1].hash, rows[-1].pk)


def test_events_are_chained_per_ej_per_author_and_per_day_for_the_others():
    ej, other_ej = EntiteJuridiqueFactory(), EntiteJuridiqueFactory()
    user = UserFactory()
    first = record_event(EventType.MEMBER_ADDED, actor=user, ej=ej)
    record_event(EventType.LOGIN_SUCCEEDED, actor=user)
    record_event(EventType.MEMBER_ADDED, actor=user, ej=other_ej)
    record_event(EventType.MEMBER_REMOVED, actor=user, ej=ej)
    anonymous = record_event(EventType.LOGIN_FAILED, data={"email": "inconnu@exemple.fr"})

    assert first.chain == f"ej:{ej.pk}"
    assert_linked(f"ej:{ej.pk}", 2)
    assert_linked(f"ej:{other_ej.pk}", 1)
    assert_linked(f"user:{user.pk}", 1)
    assert anonymous.chain == f"day:{timezone.localdate().isoformat()}"
    assert verify().problems == []


def test_the_hash_is_the_sha256_of_the_stored_content_whatever_its_types():
    """The hash recomputed from the row as the database gives it back (jsonb, inet, timestamptz) is the one
    written: decimals, dates, floats, accents and an IPv6 address in capitals included."""
    context = RequestContext(ip_address="2001:DB8::1", request_id="abc123")
    data = {
        "montant": decimal.Decimal("1234.50"),
        "le": datetime.date(2026, 12, 5),
        "taux": 0.1,
        "grand": 1e20,
        "texte": "Réalisé « 1 - OUI »\n",
        "b": [1, {"z": 1, "a": None}],
    }
    event = record_event(EventType.VALUE_SAVED, ej=EntiteJuridiqueFactory(), data=data, context=context)
    stored = AuditEvent.objects.get(pk=event.pk)
    content = hashlib.sha256(canonical(vars(stored))).hexdigest()
    assert stored.hash == hashlib.sha256(f"{GENESIS}{content}".encode()).hexdigest() == event.hash
    assert verify().problems == []
    # The content is covered: a changed comma is another hash.
    stored.data["montant"] = "1234.51"
    assert hashlib.sha256(canonical(vars(stored))).hexdigest() != content


def append_in_threads(chains, per_thread, *, hold=0.0):
    """One thread per item of `chains`, each with its own connection, appending `per_thread` events to its
    chain's EJ, each in its own transaction kept open `hold` seconds after the append. Returns the errors."""
    errors = []
    barrier = threading.Barrier(len(chains))

    def work(ej):
        try:
            barrier.wait()
            for number in range(per_thread):
                with transaction.atomic():
                    record_event(EventType.VALUE_SAVED, ej=ej, data={"n": number})
                    time.sleep(hold)
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(ej,)) for ej in chains]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_chain_never_fork_it():
    """Eight connections append to the same EJ's chain at once: 80 events, ranks 1 to 80, each pointing to
    the one before, none twice. Without the head's lock two would take the same place."""
    ej = EntiteJuridiqueFactory()
    errors = append_in_threads([ej] * 8, 10, hold=0.002)
    assert errors == []
    assert_linked(f"ej:{ej.pk}", 80)
    assert verify().problems == []


def in_a_thread(function, *args):
    """`function(*args)` on a connection of its own; returns its result or the exception it raised."""
    outcome = []

    def run():
        try:
            outcome.append(function(*args))
        except Exception as error:  # noqa: BLE001 - returned to the test
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return outcome[0]


def append_within(ej, timeout):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")
        started = time.monotonic()
        record_event(EventType.VALUE_SAVED, ej=ej)
        return time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_writers_of_different_chains_do_not_wait_for_each_other():
    """While a transaction holds EJ A's chain, another EJ's event is written at once; a second event of A
    waits until that transaction ends (here: gives up after 500 ms)."""
    ej_a, ej_b = EntiteJuridiqueFactory(), EntiteJuridiqueFactory()
    record_event(EventType.VALUE_SAVED, ej=ej_a)
    holding, release = threading.Event(), threading.Event()

    def hold_chain_a():
        try:
            with transaction.atomic():
                record_event(EventType.VALUE_SAVED, ej=ej_a)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_chain_a)
    holder.start()
    try:
        assert holding.wait(10)
        other_chain = in_a_thread(append_within, ej_b, "500ms")
        same_chain = in_a_thread(append_within, ej_a, "500ms")
    finally:
        release.set()
        holder.join()
    assert isinstance(other_chain, float) and other_chain < 0.5
    assert isinstance(same_chain, OperationalError) and "lock timeout" in str(same_chain)
    # Once the holder has committed, A's chain goes on after its event.
    assert isinstance(in_a_thread(append_within, ej_a, "500ms"), float)
    assert_linked(f"ej:{ej_a.pk}", 3)
    assert_linked(f"ej:{ej_b.pk}", 1)


def test_the_factory_chains_its_events_too():
    event = AuditEventFactory(ej=EntiteJuridiqueFactory(), object_repr="contrat")
    assert (event.chain_index, event.previous_hash) == (1, GENESIS)
    assert verify().problems == []
