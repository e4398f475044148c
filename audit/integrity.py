"""Checking the audit trail's hash chains (`manage.py verify_audit`) and the daily digest of their heads
(`manage.py audit_head`). Read-only.

Every chain (audit/chain.py) is read in its order and each event's hash recomputed from its content:

- a **modified** event no longer matches its own hash; if its hash was recomputed as well, the next event
  no longer points to it (or the chain's head no longer does, for the last one);
- a **removed** event leaves a gap in the chain's ranks (`chain_index`), the last ones included: the head
  (AuditChainHead) still counts them and names the last one;
- an **inserted** event is one the next event skips (it points to the one before), one past the head's
  count, or one written without a chain at all (outside `audit.services.append_event`).

A chain whose tail was rewritten from some event onwards with freshly computed hashes, head included, is
self-consistent: only a digest kept outside the database (`daily_heads`, exported every day) shows it.
"""

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator

from django.db.models import OuterRef, Q, Subquery
from django.utils import formats, timezone

from audit.chain import GENESIS, HASHED_FIELDS, event_hash
from audit.enums import EventType
from audit.models import AuditChainHead, AuditEvent


HEADS_FORMAT = "ecars-audit-heads-v1"
_READ = ("id", "chain_index", "hash", *(field for field in HASHED_FIELDS if field != "chain"))


class Kind:
    MODIFIED = "modifié"
    REMOVED = "supprimé"
    INSERTED = "inséré"
    HEAD = "tête de chaîne"


@dataclasses.dataclass
class Problem:
    kind: str
    chain: str
    message: str
    event_id: int | None = None


@dataclasses.dataclass
class Report:
    events: int = 0
    chains: int = 0
    problems: list[Problem] = dataclasses.field(default_factory=list)


def when(moment: datetime.datetime | None) -> str:
    return formats.date_format(timezone.localtime(moment), "d/m/Y H:i:s") if moment else "date inconnue"


def _type_label(value: str) -> str:
    try:
        return EventType(value).label
    except ValueError:
        return value or "type inconnu"


def describe(row: dict) -> str:
    """`#id du JJ/MM/AAAA hh:mm:ss (type), chaîne …`: an event as the report names it."""
    return f"#{row['id']} du {when(row['created_at'])} ({_type_label(row['event_type'])}), chaîne {row['chain']}"


class _ChainCheck:
    """The events of one chain, fed in the order of their ranks."""

    def __init__(self, chain: str, head: AuditChainHead | None, report: Report, *, predecessor=None, first=True):
        self.chain, self.head, self.report = chain, head, report
        # The event before the one being read, and the hash that event pointed to.
        self.previous = predecessor
        self.before_previous_hash = predecessor["previous_hash"] if predecessor else None
        self.first = first  # whether the chain is read from its start (no --since)
        self.problems: dict[int, Problem] = {}
        self.loose: list[Problem] = []  # problems not about one present event (gaps)
        self.last = None

    def _flag(self, kind, row, message):
        self.problems[row["id"]] = Problem(kind, self.chain, f"{describe(row)} : {message}", row["id"])

    def feed(self, row: dict) -> None:
        row["chain"] = self.chain
        if event_hash(row) != row["hash"]:
            self._flag(Kind.MODIFIED, row, "contenu modifié (l'empreinte recalculée n'est pas celle enregistrée)")
        previous = self.previous
        if self.head is not None and row["chain_index"] > self.head.length:
            self._flag(
                Kind.INSERTED,
                row,
                f"inséré après le dernier événement que la tête de chaîne connaît (rang {row['chain_index']}, "
                f"la chaîne en compte {self.head.length})",
            )
        elif previous is None and (self.first or row["chain_index"] == 1):
            if row["chain_index"] > 1:
                self._gap(1, row)
            elif row["previous_hash"] != GENESIS:
                self._flag(Kind.INSERTED, row, "premier de sa chaîne mais pointe vers un événement précédent")
        elif previous is None:
            pass  # --since: the predecessor is before the range and was not found (reported by _gap below)
        elif row["chain_index"] > previous["chain_index"] + 1:
            self._gap(previous["chain_index"] + 1, row)
        elif row["previous_hash"] != previous["hash"]:
            if row["previous_hash"] == self.before_previous_hash:
                # This event points over the previous one: that one was slipped in.
                self._flag(
                    Kind.INSERTED, previous, "inséré dans la chaîne (l'événement suivant ne pointe pas vers lui)"
                )
                self.before_previous_hash = row["previous_hash"]
                self.previous = row
                self.last = row
                return
            if previous["id"] not in self.problems:
                self._flag(
                    Kind.MODIFIED,
                    previous,
                    f"modifié ou remplacé, empreinte comprise (l'événement suivant, #{row['id']}, pointe vers une "
                    "autre empreinte)",
                )
        self.before_previous_hash = row["previous_hash"]
        self.previous = row
        self.last = row

    def _gap(self, first_missing: int, row: dict) -> None:
        last_missing = row["chain_index"] - 1
        ranks = f"rang {first_missing}" if first_missing == last_missing else f"rangs {first_missing} à {last_missing}"
        after = f"après {describe(self.previous)}, " if self.previous else ""
        self.loose.append(
            Problem(
                Kind.REMOVED,
                self.chain,
                f"chaîne {self.chain} : {last_missing - first_missing + 1} événement(s) supprimé(s) ({ranks}), "
                f"{after}avant {describe(row)}",
            )
        )

    def finish(self, *, check_head: bool) -> None:
        head, last = self.head, self.last
        if check_head and last is not None:
            if head is None:
                self.loose.append(
                    Problem(Kind.HEAD, self.chain, f"chaîne {self.chain} : tête de chaîne manquante (supprimée)")
                )
            elif last["chain_index"] < head.length:
                self.loose.append(removed_tail(head, after=last))
            elif last["chain_index"] == head.length and (
                last["id"] != head.last_event_id or last["hash"] != head.hash
            ):
                if last["id"] not in self.problems:
                    self._flag(
                        Kind.MODIFIED,
                        last,
                        "dernier de sa chaîne, modifié ou remplacé, empreinte comprise (la tête de chaîne enregistre "
                        f"#{head.last_event_id}, empreinte {head.hash[:12]}…)",
                    )
        self.report.problems.extend(self.loose)
        self.report.problems.extend(self.problems.values())


def removed_tail(head: AuditChainHead, *, after: dict | None) -> Problem:
    first_missing = after["chain_index"] + 1 if after else 1
    count = head.length - first_missing + 1
    ranks = f"rang {head.length}" if count == 1 else f"rangs {first_missing} à {head.length}"
    last = (
        f"#{head.last_event_id} du {when(head.last_created_at)} ({_type_label(head.last_event_type)}), "
        f"chaîne {head.chain}"
    )
    where = f", après {describe(after)}" if after else ", toute la chaîne"
    return Problem(
        Kind.REMOVED,
        head.chain,
        f"chaîne {head.chain} : {count} dernier(s) événement(s) supprimé(s) ({ranks}{where}) ; "
        f"le dernier était {last}",
        head.last_event_id,
    )


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _rows(events) -> Iterator[dict]:
    yield from events.order_by("chain", "chain_index").values("chain", *_READ).iterator(chunk_size=2000)


def verify(
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    chain: str | None = None,
    progress: Callable[[Iterable, int], Iterable] = lambda rows, total: rows,
) -> Report:
    """Recompute the chains (all of them, or `chain`) over the events dated from `since` to `until` included
    (Paris time), and return what is wrong. Without `until`, each chain's end is checked against its head;
    without `since`, each chain from its first event."""
    report = Report()
    events = AuditEvent.objects.all()
    heads = AuditChainHead.objects.all()
    if chain:
        events, heads = events.filter(chain=chain), heads.filter(chain=chain)
    if since:
        events = events.filter(created_at__gte=_day_start(since))
    if until:
        events = events.filter(created_at__lt=_day_start(until + datetime.timedelta(days=1)))

    for row in events.filter(Q(chain="") | Q(chain_index=None) | Q(hash="")).values(*_READ, "chain"):
        report.events += 1
        report.problems.append(
            Problem(Kind.INSERTED, row["chain"], f"{describe(row)} : inséré sans chaînage (hors de l'application)")
        )
    chained = events.exclude(Q(chain="") | Q(chain_index=None) | Q(hash=""))
    heads_by_chain = {head.chain: head for head in heads}
    seen = set()
    check = None
    for row in progress(_rows(chained), chained.count()):
        report.events += 1
        if check is None or check.chain != row["chain"]:
            if check is not None:
                check.finish(check_head=until is None)
            name = row["chain"]
            seen.add(name)
            predecessor = _predecessor(name, row["chain_index"]) if since and row["chain_index"] > 1 else None
            check = _ChainCheck(name, heads_by_chain.get(name), report, predecessor=predecessor, first=not since)
            if since and row["chain_index"] > 1 and predecessor is None:
                check._gap(row["chain_index"] - 1, row)
        check.feed(row)
    if check is not None:
        check.finish(check_head=until is None)
    report.chains = len(seen)
    if not since and not until:
        # Chains whose every event was removed: only their head is left.
        for name, head in heads_by_chain.items():
            if name not in seen and head.length:
                report.problems.append(removed_tail(head, after=None))
                report.chains += 1
    return report


def _predecessor(chain: str, index: int) -> dict | None:
    row = AuditEvent.objects.filter(chain=chain, chain_index=index - 1).values("chain", *_READ).first()
    return row


# --- The daily digest of the heads ---------------------------------------------------------------------------


@dataclasses.dataclass
class DailyHeads:
    day: datetime.date
    end: datetime.datetime
    heads: list[dict]  # {"chain", "index", "event_id", "hash"}, sorted by chain

    @property
    def events(self) -> int:
        return sum(head["index"] for head in self.heads)

    @property
    def digest(self) -> str:
        lines = [f"{HEADS_FORMAT} {self.day.isoformat()}"]
        lines += [f"{head['chain']} {head['index']} {head['event_id']} {head['hash']}" for head in self.heads]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def as_json(self) -> dict:
        return {
            "format": HEADS_FORMAT,
            "date": self.day.isoformat(),
            "end": self.end.astimezone(datetime.UTC).isoformat(),
            "digest": self.digest,
            "chains": len(self.heads),
            "events": self.events,
            "heads": self.heads,
        }


def daily_heads(day: datetime.date) -> DailyHeads:
    """Every chain's last event dated before the end of `day` (midnight, Paris time), and their digest.

    Read again later from the same rows, the digest is the same unless an event of that day or before was
    changed, removed or inserted (or a chain's head row removed). An event is counted by its date: one
    whose transaction was still open at midnight may be missed by a digest computed right at midnight, hence
    the run well after it (README « Journal d'audit »)."""
    end = _day_start(day + datetime.timedelta(days=1))
    latest = AuditEvent.objects.filter(chain=OuterRef("chain"), created_at__lt=end).order_by("-chain_index")
    rows = (
        AuditChainHead.objects.annotate(
            index=Subquery(latest.values("chain_index")[:1]),
            event_id=Subquery(latest.values("id")[:1]),
            event_hash=Subquery(latest.values("hash")[:1]),
        )
        .filter(index__isnull=False)
        .order_by("chain")
        .values_list("chain", "index", "event_id", "event_hash")
    )
    heads = [{"chain": chain, "index": index, "event_id": id, "hash": digest} for chain, index, id, digest in rows]
    return DailyHeads(day=day, end=end, heads=heads)


def compare_heads(exported: dict) -> list[Problem]:
    """What differs between a file written by `audit_head --format json` and the heads recomputed now."""
    if exported.get("format") != HEADS_FORMAT or "date" not in exported or "heads" not in exported:
        raise ValueError("ce fichier n'est pas un export de `manage.py audit_head --format json`")
    day = datetime.date.fromisoformat(exported["date"])
    current = daily_heads(day)
    file_changed = exported.get("digest") != _digest_of(exported)
    if current.digest == exported.get("digest") and not file_changed:
        return []
    problems = []
    if file_changed:
        problems.append(
            Problem(Kind.HEAD, "", "le fichier exporté a été modifié : son empreinte ne correspond pas à ses têtes")
        )
    then = {head["chain"]: head for head in exported["heads"]}
    now = {head["chain"]: head for head in current.heads}
    for name in sorted(then.keys() | now.keys()):
        before, after = then.get(name), now.get(name)
        if before == after:
            continue
        problems.append(
            Problem(
                Kind.HEAD,
                name,
                f"chaîne {name} au {formats.date_format(day, 'd/m/Y')} : tête exportée {_head_text(before)} ; "
                f"tête recalculée {_head_text(after)}",
                (before or after)["event_id"],
            )
        )
    return problems


def _digest_of(exported: dict) -> str:
    heads = DailyHeads(
        day=datetime.date.fromisoformat(exported["date"]), end=timezone.now(), heads=list(exported["heads"])
    )
    return heads.digest


def _head_text(head: dict | None) -> str:
    if head is None:
        return "aucune"
    return f"rang {head['index']}, #{head['event_id']}, empreinte {head['hash'][:12]}…"


def load_heads(path) -> dict:
    with open(path, encoding="utf-8") as file:
        return json.load(file)
