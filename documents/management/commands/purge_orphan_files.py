"""Delete the stored files that no row names, once older than the grace period (issue 16, SECURITY.md R4).

A worker killed between a file's write and its row's commit (an upload, a closure's receipt, a report) leaves the
file in the documents storage without a row: `check_documents` lists it, this command deletes it. Every kind of
file `check_documents` knows is covered (documents — observation documents included —, closure receipts, reports),
on the local folder and on S3. A file younger than --grace-minutes (at least 60) is kept: its row may be on its way.
Each name is checked against its table again right before it is deleted. A dry run unless --wet-run; a wet run
that deleted something logs each file and writes one audit event (COMMAND_RUN) with their names.
Meant for a daily cron job, after `check_documents`.
"""

import datetime

from django.core.management.base import CommandError
from django.utils import formats, timezone

from documents import cleanup
from ecars.lib.commands import OpsCommand


def _when(moment):
    return formats.date_format(timezone.localtime(moment), "d/m/Y H:i")


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "--grace-minutes",
            type=int,
            default=60,
            metavar="MINUTES",
            help="âge minimal d'un fichier sans ligne pour être supprimé (60 par défaut, 60 au moins)",
        )

    def handle_ops(self, *, wet_run, grace_minutes, **options):
        minimum = int(cleanup.MIN_GRACE.total_seconds() // 60)
        if grace_minutes < minimum:
            raise CommandError(
                f"--grace-minutes doit valoir au moins {minimum} : un fichier plus récent peut attendre sa ligne."
            )
        result = cleanup.purge_orphans(grace=datetime.timedelta(minutes=grace_minutes), delete=wet_run)
        out = self.stdout.write
        verb = "Supprimé" if wet_run else "À supprimer"
        for orphan in result.orphans:
            when = _when(orphan.modified)
            out(f"  {verb} : {orphan.name} ({orphan.kind.label}, {orphan.size} octets, déposé le {when})")
        for orphan in result.got_a_row:
            out(f"  Conservé (sa ligne est arrivée entre-temps) : {orphan.name}")
        self.summary(
            {
                "fichiers sans ligne supprimés" if wet_run else "fichiers sans ligne à supprimer": len(result.orphans),
                f"fichiers sans ligne récents (moins de {grace_minutes} min), conservés": len(result.kept_recent),
            },
            wet_run=wet_run,
        )
