"""Check the audit trail's hash chains (SECURITY.md F4; audit/integrity.py): `verify_audit`. Read-only.

Recomputes every event's SHA-256 and follows each chain from its first event to its head: a modified, removed
(a chain's last ones included) or inserted event is listed with its id, date, type and chain. With
--heads FICHIER (a file written by `manage.py audit_head --format json` and kept outside the database), also
recomputes the heads of that file's day and names every chain whose head differs: this catches a chain whose
tail was rewritten with freshly computed hashes. --since/--until (dates, Paris time) and --chain restrict the
check, e.g. to yesterday's events in a daily cron job; without them everything is checked.
Exit code 0 with a summary line when the trail is intact, 1 when a problem is found.
"""

import datetime

from django.core.management.base import CommandError

from audit.integrity import compare_heads, load_heads, verify
from ecars.lib.commands import ProgressCommand


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"Date invalide : « {text} » (attendu AAAA-MM-JJ).") from error


class Command(ProgressCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="AAAA-MM-JJ", help="ne vérifier que les événements de ce jour et après")
        parser.add_argument("--until", metavar="AAAA-MM-JJ", help="ne vérifier que les événements de ce jour et avant")
        parser.add_argument("--chain", metavar="CHAÎNE", help="ne vérifier que cette chaîne (p. ex. ej:12, user:7)")
        parser.add_argument(
            "--heads",
            metavar="FICHIER",
            help="comparer aussi les têtes recalculées à celles de ce fichier (export de audit_head --format json)",
        )

    def handle(self, *args, since, until, chain, heads, **options):
        since, until = (_date(since) if since else None), (_date(until) if until else None)
        if since and until and since > until:
            raise CommandError("--since est après --until : aucun événement à vérifier.")
        exported = None
        if heads:
            try:
                exported = load_heads(heads)
            except (OSError, ValueError) as error:
                raise CommandError(f"Fichier des têtes illisible ({heads}) : {error}") from error

        out = self.stdout.write
        scope = []
        if chain:
            scope.append(f"chaîne {chain}")
        if since or until:
            scope.append(f"du {since or 'début'} au {until or 'dernier événement'}")
        out("Vérification du journal d'audit" + (f" ({', '.join(scope)})" if scope else "") + " : lecture seule.")
        report = verify(
            since=since,
            until=until,
            chain=chain,
            progress=lambda rows, total: self.progress(rows, total=total, label="Événements"),
        )
        problems = list(report.problems)
        if exported is not None:
            try:
                head_problems = compare_heads(exported)
            except (KeyError, TypeError, ValueError) as error:
                raise CommandError(f"Fichier des têtes illisible ({heads}) : {error}") from error
            problems += head_problems
            if not head_problems:
                out(f"  Têtes du {exported['date']} : identiques à celles du fichier ({exported['digest']}).")

        if problems:
            out(self.style.ERROR(f"Anomalies : {len(problems)}"))
            for problem in problems:
                out(f"  [{problem.kind}] {problem.message}")
            raise CommandError(
                f"Journal d'audit altéré : {len(problems)} anomalie(s) ({report.events} événement(s), "
                f"{report.chains} chaîne(s) vérifiés)."
            )
        out(
            self.style.SUCCESS(
                f"Journal d'audit intact : {report.events} événement(s) dans {report.chains} chaîne(s) vérifiés."
            )
        )
