"""The hash chains of the audit trail: which chain an event belongs to, and what its hash covers.

Each event carries the SHA-256 of the previous event of its chain (`previous_hash`) and its own
(`hash`): the SHA-256 of that previous hash followed by the SHA-256 of a canonical serialisation of the
event's content (`canonical`), so that the database can chain a digest computed beforehand (`link`).
Changing, removing or slipping in a row breaks the chain where it happened, which `manage.py verify_audit`
finds; the daily digest of every chain's head (`manage.py audit_head`), kept outside the database, also
catches a chain whose tail was rewritten with freshly computed hashes.

Chains (`chain_for`) — a single chain would make every write of the portal queue on one lock, held until
its transaction commits. So:

- an event about an EJ joins the EJ's chain (`ej:<id>`): the writes of one EJ already queue on its
  self-evaluation's row, so its chain adds no waiting between EJs;
- an event without an EJ but with an author (sign-ins, password changes, an agent's national operations)
  joins the author's chain (`user:<id>`): the deadline-day login storm spreads over as many chains as
  there are users, and one person's requests rarely overlap;
- an event with neither (a failed sign-in with an unknown address, a throttled client, a scheduled
  command) joins the chain of its day (`day:AAAA-MM-JJ`, Paris time). These are few (failed sign-ins
  are at most a handful per person, throttled ones one row per client and minute,
  `audit.security.record_bounded_event`), and each holds the lock only until its short request
  commits; a chain per day also keeps each such chain short.

The functions here work on plain values so that the migration which chained the existing rows uses
exactly the same rules as the application. They must never change: a change would make every recorded
hash « modified ». A new serialisation would need a new version tag (`VERSION`) stored with the rows.
"""

import datetime
import hashlib
import ipaddress
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone


VERSION = "ecars-audit-v1"
# The previous hash of a chain's first event.
GENESIS = "0" * 64
# The fields of AuditEvent that the hash covers, in the order of the serialisation.
HASHED_FIELDS = (
    "chain",
    "previous_hash",
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


def chain_for(*, ej_id: int | None, actor_id: int | None, created_at: datetime.datetime) -> str:
    """The chain of an event (see the module's docstring for the rules and their reasons)."""
    if ej_id is not None:
        return f"ej:{ej_id}"
    if actor_id is not None:
        return f"user:{actor_id}"
    return f"day:{timezone.localdate(created_at).isoformat()}"


def stored_json(data) -> object:
    """`data` as the database gives it back: what the JSON column keeps of it (dates, decimals and UUIDs
    become strings, tuples lists, keys strings). The event is saved and hashed in this form, so that the
    hash recomputed from the stored row is the same."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _integral_floats_as_ints(value):
    # PostgreSQL's jsonb gives a float such as 1e20 back as 100000000000000000000: both serialise alike.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


def _canonical_ip(value: str | None) -> str | None:
    # PostgreSQL's inet writes an IPv6 address in lower case, compressed: the same address, whatever
    # the form it was given in.
    return str(ipaddress.ip_address(value)) if value else None


def canonical(values: dict) -> bytes:
    """The bytes of an event's content: a JSON array of `VERSION` and `HASHED_FIELDS` but the previous hash, the
    date in UTC to the microsecond, the address in its canonical form, `data` with sorted keys."""
    created_at = values["created_at"].astimezone(datetime.UTC).isoformat(timespec="microseconds")
    fields = [
        VERSION,
        values["chain"],
        created_at,
        values["actor_id"],
        _canonical_ip(values["ip_address"]),
        values["request_id"],
        values["ej_id"],
        values["event_type"],
        values["object_type"],
        values["object_id"],
        values["object_repr"],
        _integral_floats_as_ints(values["data"]),
    ]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_digest(values: dict) -> str:
    """The SHA-256 (hexadecimal) of an event's content (`canonical`)."""
    return hashlib.sha256(canonical(values)).hexdigest()


def link(previous_hash: str, digest: str) -> str:
    """An event's hash: the SHA-256 of the previous event's hash followed by its content's digest (both in
    hexadecimal, ASCII). PostgreSQL computes the same in the statement that appends an event
    (audit.services): `encode(sha256(convert_to(previous || digest, 'UTF8')), 'hex')`."""
    return hashlib.sha256((previous_hash + digest).encode("ascii")).hexdigest()


def event_hash(values: dict) -> str:
    """The hash of an event from its `HASHED_FIELDS` (`previous_hash` included)."""
    return link(values["previous_hash"], content_digest(values))
