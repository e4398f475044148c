"""Check a backup made by `manage.py backup` (SECURITY.md R10): `verify_backup DIR`. Read-only.

DIR is a backup (DIR/<timestamp>/) or the folder holding them (the latest is checked). Proves that:
- every file of the backup has the SHA-256 that its SHA256SUMS lists, none missing, none added;
- database.dump is a readable pg_dump archive (`pg_restore --list`);
- every row of the manifest (documents, closure receipts, evaluation reports) has its file with the
  manifest's SHA-256 (and size): in the backup's files/ copy when it has one, else in the live documents
  storage (local folder or S3, as configured);
- with --database-url, that this database (a copy restored from the dump: see the README's restore drill)
  holds exactly the manifest's rows: same ids, storage names, SHA-256 and sizes, none more.
Every problem is listed with its row; the exit code is 1 when there is one, 0 otherwise. Nothing is ever
written, moved or deleted.
"""

from django.core.management.base import CommandError
from django.utils import formats, timezone

from documents.backup import BackupError, verify_backup
from ecars.lib.commands import ProgressCommand


class Command(ProgressCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "directory",
            metavar="DIR",
            help="une sauvegarde, ou le dossier des sauvegardes (la plus récente est vérifiée)",
        )
        parser.add_argument(
            "--database-url",
            metavar="URL",
            help="vérifier aussi que cette base PostgreSQL (postgres://…, p. ex. une copie restaurée) contient "
            "exactement les lignes du manifeste",
        )

    def handle(self, *args, directory, database_url, **options):
        try:
            report = verify_backup(directory, database_url=database_url, progress=self.progress)
        except BackupError as error:
            raise CommandError(f"Vérification impossible : {error}") from error

        out = self.stdout.write
        out(f"Vérification de la sauvegarde {report.path} (lecture seule : rien n'est modifié).")
        created = (
            formats.date_format(timezone.localtime(report.created_at), "d/m/Y H:i:s")
            if report.created_at
            else "date inconnue"
        )
        out(f"  Créée le {created} ; {report.rows} ligne(s) de fichiers stockés au manifeste.")
        for info in report.kinds:
            out(f"    {info.kind} : {info.rows}")
        out(f"  SHA256SUMS : {report.files_checked} fichier(s) de la sauvegarde relu(s).")
        if report.dump_entries is not None:
            out(f"  Archive PostgreSQL lisible (pg_restore --list : {report.dump_entries} entrées).")
        elif not report.dump_problem:
            out(self.style.WARNING("  pg_restore introuvable : la lisibilité de l'archive n'a pas été vérifiée."))
        out(f"  Fichiers des lignes vérifiés dans {report.source}.")
        if report.database:
            out(f"  Base comparée au manifeste : {report.database} ({report.database_rows} ligne(s) lue(s)).")

        sections = (
            ("Fichiers de la sauvegarde altérés, absents ou en trop (SHA256SUMS)", report.sums_problems),
            ("Archive PostgreSQL", [report.dump_problem] if report.dump_problem else []),
            ("Lignes dont le fichier manque", report.missing),
            ("Fichiers dont l'empreinte ne correspond pas au manifeste", report.mismatches),
            ("Différences entre la base et le manifeste", report.database_problems),
        )
        for title, problems in sections:
            if problems:
                out(self.style.ERROR(f"{title} : {len(problems)}"))
                for problem in problems:
                    out(f"  {problem}")

        if report.problems:
            raise CommandError(
                f"Vérification échouée : {report.problems} problème(s) — {len(report.sums_problems)} dans "
                f"SHA256SUMS, {len(report.missing)} fichier(s) manquant(s), {len(report.mismatches)} empreinte(s) "
                f"différente(s), {len(report.database_problems)} différence(s) avec la base"
                + (", archive illisible." if report.dump_problem else ".")
            )
        out(self.style.SUCCESS("Sauvegarde vérifiée : aucun problème."))
