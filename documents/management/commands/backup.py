"""Back up the database and the list of stored files with their SHA-256 (SECURITY.md R10): `backup DIR`.

Writes DIR/<timestamp>/ (UTC, e.g. DIR/20250314T031500Z/) holding:
- database.dump: a `pg_dump --format=custom` of the database of DATABASE_URL (restore it with pg_restore);
- manifest.json: every stored-file row (documents, closure receipts, evaluation reports) with its kind,
  row id, storage name, size and SHA-256 as the database records them, read in the very snapshot that
  pg_dump dumps (the manifest and the dump always agree);
- with --with-files, files/: a copy of every stored file (local folder or S3), each SHA-256 checked while
  copying; without it the files stay in the documents storage (S3 versioning and replication back them up);
- SHA256SUMS: the SHA-256 of the backup's own files (`sha256sum -c SHA256SUMS`).
Everything is written to DIR/<timestamp>.partial/ and renamed at the end: a failure (pg_dump, a missing
or changed file, a full disk) removes it, exits non-zero and leaves no backup half-written. PostgreSQL
only (on SQLite, the demo, it refuses). Dry run by default: says what it would write; --wet-run writes.
Every wet run makes a new backup (rotation is the cron job's); `manage.py verify_backup DIR` checks one.
"""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils import formats

from documents.backup import DUMP, FILES, MANIFEST, SUMS, BackupError, make_backup
from ecars.lib.commands import OpsCommand


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "directory",
            metavar="DIR",
            help="dossier des sauvegardes (doit exister) ; chacune y est écrite dans un sous-dossier daté",
        )
        parser.add_argument(
            "--with-files",
            action="store_true",
            help="copier aussi chaque fichier stocké dans la sauvegarde (files/), en vérifiant son SHA-256",
        )
        parser.add_argument(
            "--lock-wait-seconds",
            type=int,
            default=60,
            metavar="SECONDES",
            help="abandonner si la lecture de la base attend un verrou plus longtemps (derrière une migration…) (60)",
        )

    def handle_ops(self, *, wet_run, directory, with_files, lock_wait_seconds, **options):
        if lock_wait_seconds < 1:
            raise CommandError("--lock-wait-seconds doit être au moins 1.")
        try:
            result = make_backup(
                Path(directory),
                wet_run=wet_run,
                with_files=with_files,
                lock_wait_seconds=lock_wait_seconds,
                progress=self.progress,
            )
        except BackupError as error:
            raise CommandError(f"Sauvegarde échouée : {error}") from error

        out = self.stdout.write
        for leftover in result.leftovers:
            out(
                self.style.WARNING(
                    f"Dossier partiel d'une sauvegarde interrompue (ou en cours) : {leftover} — à supprimer s'il "
                    "n'y a pas d'autre sauvegarde en cours."
                )
            )
        dump = (
            f"pg_dump --format=custom de la base {result.database} (PostgreSQL {result.server_version}, "
            f"pg_dump {result.pg_dump_version})"
        )
        files = (
            f"copie des fichiers depuis le {result.storage}, empreintes vérifiées"
            if with_files
            else f"pas de copie (sans --with-files) : les fichiers restent dans le {result.storage}"
        )
        out(
            ("Sauvegarde écrite dans" if wet_run else "Sauvegarde prévue dans")
            + f" {result.path}{'' if wet_run else '/'} :"
        )
        out(f"  {DUMP} : {dump}" + (f", instantané {result.snapshot}" if result.snapshot else ""))
        out(f"  {MANIFEST} : les lignes des fichiers stockés, lues dans le même instantané que la base")
        out(f"  {FILES}/ : {files}")
        out(f"  {SUMS} : les empreintes SHA-256 des fichiers de la sauvegarde")

        counts = {f"lignes « {info.kind} »": info.rows for info in result.kinds}
        counts["lignes du manifeste"] = result.rows
        counts["octets des fichiers dont la base enregistre la taille"] = result.recorded_bytes
        if with_files:
            counts["fichiers copiés" if wet_run else "fichiers à copier"] = result.files
            if wet_run:
                counts["octets copiés"] = result.copied_bytes
        if wet_run:
            counts["taille de la sauvegarde (octets)"] = result.backup_bytes
        self.summary(counts, wet_run=wet_run)
        out(f"Durée : {formats.number_format(result.duration, 1)} s.")
