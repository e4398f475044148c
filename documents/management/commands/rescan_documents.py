"""Re-scan the stored documents with clamd's current signatures (SECURITY.md E9, §2).

Picks the documents never scanned (« en attente »), those whose scan failed (« erreur »), and the
« sain » ones whose last scan is older than --older-than days, and enqueues one scan task each
(run by `manage.py db_worker`), in batches. Quarantined (« infecté ») documents are left alone.
Dry run by default: it only counts; --wet-run enqueues. Meant for a daily cron job.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from documents.antivirus import scan_document, scanning_enabled
from documents.enums import ScanStatus
from documents.models import Document


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=30,
            metavar="JOURS",
            help="re-scan the « sain » documents whose last scan is older than this many days (30)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="documents read from the database at a time (500)"
        )
        parser.add_argument("--wet-run", action="store_true", help="enqueue the scans (default: only count)")

    def handle(self, *args, older_than, batch_size, wet_run, **options):
        if older_than < 0 or batch_size < 1:
            raise CommandError("--older-than doit être positif et --batch-size au moins 1.")
        if wet_run and not scanning_enabled():
            raise CommandError("Aucun clamd configuré (CLAMD_SOCKET ou CLAMD_HOST) : rien ne peut être analysé.")
        cutoff = timezone.now() - timedelta(days=older_than)
        due = Document.objects.filter(
            Q(scan_status__in=[ScanStatus.EN_ATTENTE, ScanStatus.ERREUR])
            | (Q(scan_status=ScanStatus.SAIN) & (Q(scanned_at__isnull=True) | Q(scanned_at__lt=cutoff)))
        )

        count, last_pk = 0, 0
        while True:
            # Keyset pagination: a batch never holds more than batch_size ids, whatever the table's size.
            batch = list(due.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            if wet_run:
                for document_id in batch:
                    scan_document.enqueue(document_id=document_id)
            count += len(batch)
            last_pk = batch[-1]

        if wet_run:
            self.stdout.write(f"{count} document(s) mis en file d'analyse antivirus.")
        else:
            since = f"{timezone.localtime(cutoff):%d/%m/%Y}"
            self.stdout.write(
                f"{count} document(s) à analyser (dernière analyse avant le {since}, jamais faite ou en erreur). "
                "Simulation : relancez avec --wet-run pour les mettre en file d'analyse."
            )
