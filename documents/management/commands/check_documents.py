"""Check the stored documents and closure receipts against their rows (SECURITY.md R4, R10). Read-only.

Reports (a) the objects under documents/ and receipts/ that no row names (orphans, e.g. an upload
interrupted before its row was saved; those younger than --grace-minutes are only listed, their
row may be on its way), (b) the rows whose file is missing, and (c) with --verify-hashes, the files
whose bytes no longer match the row's SHA-256 (every file is read, in chunks). Works on the local
folder and on S3. Nothing is ever deleted or changed: the report is for a person to act on.
Exit code 0 when everything is in order, 1 when a problem is found. Meant for a daily cron job and
for the restore drills (--verify-hashes).
"""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import formats, timezone

from documents.integrity import check_integrity


def _when(moment):
    return formats.date_format(timezone.localtime(moment), "d/m/Y H:i") if moment else "date inconnue"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--verify-hashes", action="store_true", help="read every stored file and compare its SHA-256 (slow)"
        )
        parser.add_argument(
            "--grace-minutes",
            type=int,
            default=60,
            metavar="MINUTES",
            help="objects without a row younger than this are listed but not counted as problems (60)",
        )

    def handle(self, *args, verify_hashes, grace_minutes, **options):
        if grace_minutes < 0:
            raise CommandError("--grace-minutes doit être positif ou nul.")
        report = check_integrity(verify_hashes=verify_hashes, grace=datetime.timedelta(minutes=grace_minutes))
        out = self.stdout.write

        out("Contrôle des fichiers stockés (lecture seule : rien n'est modifié ni supprimé).")
        for kind, rows in report.rows.items():
            out(f"  {kind.label} : {rows} ligne(s) en base, {report.objects[kind]} objet(s) sous {kind.prefix}/")
        if verify_hashes:
            out(f"  Empreintes SHA-256 recalculées : {report.hashed} fichier(s).")
        else:
            out("  Empreintes SHA-256 non vérifiées (--verify-hashes pour les recalculer).")

        if report.orphans:
            out(self.style.ERROR(f"Objets sans ligne en base (orphelins) : {len(report.orphans)}"))
            for orphan in report.orphans:
                out(f"  {orphan.name} ({orphan.kind.label}, {orphan.size} octets, déposé le {_when(orphan.modified)})")
        if report.missing:
            out(self.style.ERROR(f"Lignes dont le fichier manque : {len(report.missing)}"))
            for missing in report.missing:
                out(f"  {missing.row} : {missing.row.name or '(aucun fichier enregistré)'}")
        if report.mismatches:
            out(self.style.ERROR(f"Fichiers dont l'empreinte ne correspond plus : {len(report.mismatches)}"))
            for mismatch in report.mismatches:
                row = mismatch.row
                expected = f"{row.sha256}" + (f", {row.size} octets" if row.size is not None else "")
                out(f"  {row} : {row.name} — attendu {expected} ; lu {mismatch.sha256}, {mismatch.size} octets")
        if report.recent_orphans:
            out(
                self.style.WARNING(
                    f"Objets récents sans ligne (moins de {grace_minutes} min, dépôt peut-être en cours, "
                    f"non comptés) : {len(report.recent_orphans)}"
                )
            )
            for orphan in report.recent_orphans:
                out(f"  {orphan.name} ({orphan.kind.label}, {orphan.size} octets, déposé le {_when(orphan.modified)})")

        if report.problems:
            raise CommandError(
                f"Contrôle terminé : {report.problems} problème(s) — {len(report.orphans)} orphelin(s), "
                f"{len(report.missing)} fichier(s) manquant(s), {len(report.mismatches)} empreinte(s) différente(s)."
            )
        out(self.style.SUCCESS("Contrôle terminé : aucun problème."))
