"""Remove the uploads spooled to FILE_UPLOAD_TEMP_DIR that a killed worker left behind (issue 16).

An upload above FILE_UPLOAD_MAX_MEMORY_SIZE is received into a temporary file named `ecars-upload-*.upload*`
(documents/upload_handlers.py); Django removes it at the end of the request, but a worker killed mid-upload
(SIGKILL, OOM) cannot, and up to 20 Mo stay on the disk. This command removes those older than --older-than-minutes
(60 by default and at least: longer than any upload takes), keeps the younger ones (uploads in progress) and
never touches any other file of the folder. They have no row: nothing is written to the database. A dry run
unless --wet-run. To run on every web server (the folder is local to each), e.g. hourly.
"""

import datetime

from django.core.management.base import CommandError

from documents import cleanup
from ecars.lib.commands import OpsCommand


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=60,
            metavar="MINUTES",
            help="âge minimal d'un fichier temporaire pour être supprimé (60 par défaut, 60 au moins)",
        )

    def handle_ops(self, *, wet_run, older_than_minutes, **options):
        minimum = int(cleanup.MIN_GRACE.total_seconds() // 60)
        if older_than_minutes < minimum:
            raise CommandError(
                f"--older-than-minutes doit valoir au moins {minimum} : un dépôt plus récent peut être en cours."
            )
        result = cleanup.purge_upload_temp_files(
            older_than=datetime.timedelta(minutes=older_than_minutes), delete=wet_run
        )
        out = self.stdout.write
        out(f"Dossier des dépôts en cours : {result.folder}")
        verb = "Supprimé" if wet_run else "À supprimer"
        for stale in result.stale:
            out(f"  {verb} : {stale.path} ({stale.size} octets)")
        self.summary(
            {
                "fichiers temporaires abandonnés supprimés"
                if wet_run
                else "fichiers temporaires abandonnés à supprimer": len(result.stale),
                f"dépôts en cours (moins de {older_than_minutes} min), conservés": result.in_progress,
                "octets libérés" if wet_run else "octets à libérer": sum(stale.size for stale in result.stale),
            },
            wet_run=wet_run,
        )
