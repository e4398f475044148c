"""Open a campaign in bulk: a self-evaluation with its empty values for every signed contract of the campaign's
type in its regions (for the EJ, or for each ET, as each question says), each value linked to last year's answer,
in « Auto-Evaluation » from the campaign's start date (« Pré-campagne » before: run it again on that date), and
the opening e-mail to every member of each EJ, with the deadline and a link.

Dry run by default (what it would create and send); --wet-run writes. Batches of contracts, each in one
transaction: an interrupted run resumes where it stopped, and a second run creates and sends nothing. Meant to be
run by hand when a campaign is ready, and daily by cron from the pré-campagne to the deadline (it opens on the
start date what waited, and tells members added since).
"""

import datetime

from django.core.management.base import CommandError
from django.utils import timezone

from ecars.lib.commands import OpsCommand
from evaluation import campaigns
from evaluation.models import Campaign


def campaign_by_code(code: str) -> Campaign:
    """The campaign of code `code`, or a CommandError naming the known codes."""
    campaign = Campaign.objects.filter(code=code).select_related("referential", "contract_type").first()
    if campaign is None:
        known = ", ".join(Campaign.objects.order_by("-year", "code").values_list("code", flat=True)[:20])
        raise CommandError(f"Campagne « {code} » inconnue. Campagnes existantes : {known or 'aucune'}.")
    return campaign


def date_argument(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"Date « {text} » invalide : attendu AAAA-MM-JJ.") from error


class Command(OpsCommand):
    help = __doc__

    def add_ops_arguments(self, parser):
        parser.add_argument("campaign", help="code de la campagne (colonne « code » de l'admin)")
        parser.add_argument(
            "--date", help="faire comme si l'on était ce jour-là (AAAA-MM-JJ) ; aujourd'hui par défaut", default=None
        )

    def handle_ops(self, *, wet_run, campaign, date, **options):
        today = date_argument(date) if date else timezone.localdate()
        campaign = campaign_by_code(campaign)
        plan = campaigns.plan(campaign, today=today)
        out = self.stdout.write
        out(
            f"Campagne « {campaign.name} » ({campaign.code}), auto-évaluation du "
            f"{campaign.self_assessment_start:%d/%m/%Y} au {campaign.self_assessment_deadline:%d/%m/%Y}."
        )
        if today > campaign.self_assessment_deadline:
            raise CommandError(
                f"La date limite de la campagne ({campaign.self_assessment_deadline:%d/%m/%Y}) est passée : "
                "rien n'est ouvert."
            )
        state = "« Auto-Evaluation »" if plan.opens else "« Pré-campagne » (ouverture le jour venu)"
        for contract, reason in plan.skipped:
            out(self.style.WARNING(f"  Non ouvert : {contract.ej.finess} « {contract.name} » — {reason}."))
        if not wet_run:
            self.summary(
                {
                    f"auto-évaluations à créer, à l'état {state}": len(plan.to_create),
                    "valeurs à créer": plan.values,
                    "auto-évaluations en pré-campagne à ouvrir": len(plan.to_open),
                    "courriels d'ouverture à envoyer": plan.notices,
                    "contrats non ouverts (voir ci-dessus)": len(plan.skipped),
                },
                wet_run=False,
            )
            return
        result = campaigns.open_campaign(
            campaign,
            today=today,
            progress=lambda items, total: self.progress(items, total=total, label="Ouverture"),
        )
        self.summary(
            {
                f"auto-évaluations créées, à l'état {state}": result.created,
                "valeurs créées": result.values,
                "valeurs reliées à la réponse de l'année précédente": result.linked,
                "auto-évaluations en pré-campagne ouvertes": result.opened,
                "courriels d'ouverture envoyés": result.notices,
                "contrats non ouverts (voir ci-dessus)": len(result.skipped),
            },
            wet_run=True,
        )
        if not (result.created or result.opened or result.notices):
            out("Rien à faire : la campagne était déjà ouverte pour chaque contrat et chaque membre prévenu.")
