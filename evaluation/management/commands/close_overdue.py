"""Close d'office the self-evaluations whose deadline has passed (« clôturée d'office »): each one still in
« Auto-Evaluation » after its last day of writing (the EJ's extension included) is closed as it stands, with the
reason in its change of state and an attestation de clôture e-mailed to every member of the EJ and to the ARS
contact. Those a signataire closed, or given an extension, are left alone.

Dry run by default (lists what it would close); --wet-run closes. One transaction per self-evaluation: an interrupted
run resumes where it stopped; a second run closes nothing. Meant for a daily cron job, after midnight.
"""

from django.utils import timezone

from ecars.lib.commands import OpsCommand
from evaluation import overdue, progress
from evaluation.management.commands.open_campaign import date_argument


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "--date", help="faire comme si l'on était ce jour-là (AAAA-MM-JJ) ; aujourd'hui par défaut", default=None
        )

    def handle_ops(self, *, wet_run, date, **options):
        today = date_argument(date) if date else timezone.localdate()
        late = list(overdue.overdue(today).select_related("campaign", "contract__ej").order_by("pk"))
        fill = progress.fill_counts(overdue.overdue(today))
        for self_evaluation in late:
            self.stdout.write(
                f"  {self_evaluation.contract.ej.finess} « {self_evaluation.contract.name} » "
                f"({self_evaluation.campaign.code}) : date limite {self_evaluation.deadline:%d/%m/%Y}, "
                f"rempli à {progress.fill_percent(fill, self_evaluation.pk)} %"
            )
        if not wet_run:
            self.summary({"auto-évaluations à clôturer d'office": len(late)}, wet_run=False)
            return
        closed = overdue.close_all(
            today, progress_bar=lambda items, total: self.progress(items, total=total, label="Clôture d'office")
        )
        self.summary({"auto-évaluations clôturées d'office": closed}, wet_run=True)
        if not closed:
            self.stdout.write("Rien à faire : aucune auto-évaluation ouverte n'a dépassé sa date limite.")
