"""The daily digest of the audit trail (SECURITY.md F4; audit/integrity.py `daily_heads`): `audit_head`. Read-only.

For a day (--date, yesterday by default; Paris time), takes the last event of every chain dated before the
end of that day and computes one SHA-256 over them. Writes it to the logs (logger `ecars.audit`, one line)
and prints it; with --format json, prints the digest with the list of heads, the file an ARS keeps outside
the portal (and that `manage.py verify_audit --heads FICHIER` checks the database against later). With
--output FICHIER the JSON is also written to that file (`{date}` in its name becomes the day, AAAA-MM-JJ); if
the file is already there with another digest for the same day, the command stops with an error: the trail
changed since it was written.
Meant for a daily cron job, well after midnight (README « Journal d'audit »).
"""

import datetime
import json
import logging
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import formats, timezone

from audit.integrity import daily_heads


logger = logging.getLogger("ecars.audit")


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--date", metavar="AAAA-MM-JJ", help="le jour (heure de Paris) ; par défaut, hier")
        parser.add_argument("--format", choices=["text", "json"], default="text", help="text (par défaut) ou json")
        parser.add_argument(
            "--output",
            metavar="FICHIER",
            help="écrire aussi l'export JSON dans ce fichier ({date} dans son nom devient le jour, AAAA-MM-JJ)",
        )

    def handle(self, *args, date, format, output, **options):
        if date:
            try:
                day = datetime.date.fromisoformat(date)
            except ValueError as error:
                raise CommandError(f"Date invalide : « {date} » (attendu AAAA-MM-JJ).") from error
        else:
            day = timezone.localdate() - datetime.timedelta(days=1)
        if day >= timezone.localdate():
            raise CommandError(
                f"Le {formats.date_format(day, 'd/m/Y')} n'est pas terminé : "
                "sa tête ne sera définitive qu'après minuit."
            )
        heads = daily_heads(day)
        exported = heads.as_json()
        logger.info(
            "audit head %s: digest=%s chains=%d events=%d",
            day.isoformat(),
            heads.digest,
            len(heads.heads),
            heads.events,
        )
        if output:
            self._write(Path(output.replace("{date}", day.isoformat())), exported)
        if format == "json":
            self.stdout.write(json.dumps(exported, indent=1, ensure_ascii=False))
        else:
            self.stdout.write(
                f"Tête du journal d'audit au {formats.date_format(day, 'd/m/Y')} (fin de journée, heure de Paris) : "
                f"{heads.digest} — {len(heads.heads)} chaîne(s), {heads.events} événement(s)."
            )

    def _write(self, path: Path, exported: dict) -> None:
        if path.exists():
            try:
                earlier = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"{path} existe et n'est pas lisible ({error}) : rien n'a été écrit.") from error
            if earlier.get("date") == exported["date"] and earlier.get("digest") == exported["digest"]:
                return
            if earlier.get("date") == exported["date"]:
                logger.error(
                    "audit head %s changed: exported %s, now %s",
                    exported["date"],
                    earlier.get("digest"),
                    exported["digest"],
                )
                raise CommandError(
                    f"{path} donne pour le {exported['date']} l'empreinte {earlier.get('digest')}, la base donne "
                    f"aujourd'hui {exported['digest']} : le journal d'audit a changé depuis (verify_audit --heads "
                    f"{path} dit où). Le fichier n'a pas été remplacé."
                )
        # Written next to its place, then renamed: never half-written.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as file:
            json.dump(exported, file, indent=1, ensure_ascii=False)
            file.write("\n")
        os.replace(file.name, path)
