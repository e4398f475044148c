"""Send the reminders due today: J-30, J-7 and J-1 before each EJ's own deadline (its extension included) to the
members of the EJ that have not closed, with the fill percentage and the questions still red; to the evaluators,
the contracts closed 30 days ago and not evaluated, and the observations not answered 7 days before the end of the
période contradictoire.

Every reminder is recorded per person: none is ever sent twice, and an EJ that closed is never reminded. Dry run by
default (lists who would get what); --wet-run sends. Meant for a daily cron job.
"""

from django.utils import timezone

from ecars.lib.commands import OpsCommand
from evaluation import reminders
from evaluation.enums import NoticeKind
from evaluation.management.commands.open_campaign import date_argument


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument(
            "--date", help="faire comme si l'on était ce jour-là (AAAA-MM-JJ) ; aujourd'hui par défaut", default=None
        )

    def handle_ops(self, *, wet_run, date, **options):
        today = date_argument(date) if date else timezone.localdate()
        self.stdout.write(f"Relances du {today:%d/%m/%Y}.")
        if not wet_run:
            counts = {kind: 0 for kind in NoticeKind if kind not in (NoticeKind.OUVERTURE, NoticeKind.CLOTURE_OFFICE)}
            for self_evaluation, kind, deadline, users in reminders.due(today):
                counts[kind] += len(users)
                self.stdout.write(
                    f"  {kind.label} : {self_evaluation.contract.ej.finess} « {self_evaluation.contract.name} » "
                    f"(échéance {deadline:%d/%m/%Y}) → {', '.join(user.email for user in users)}"
                )
            self.summary({f"{kind.label} (courriels)": count for kind, count in counts.items()}, wet_run=False)
            return
        sent = reminders.send_reminders(
            today, progress_bar=lambda items, total: self.progress(items, total=total, label="Relances")
        )
        kinds = [kind for kind in NoticeKind if kind not in (NoticeKind.OUVERTURE, NoticeKind.CLOTURE_OFFICE)]
        self.summary({f"{kind.label} (courriels)": sent.get(kind, 0) for kind in kinds}, wet_run=True)
        if not any(sent.values()):
            self.stdout.write("Rien à envoyer : aucune relance due aujourd'hui qui n'ait déjà été envoyée.")
