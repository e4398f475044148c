"""Who may validate an ET's identification data, and when (the manual's pré-campagne)."""

import datetime
from dataclasses import dataclass

from django.utils.formats import date_format

from contracts.enums import MembershipRole


NO_CAMPAIGN = "Aucune campagne n'est en cours pour ce contrat : il n'y a pas de données d'identification à valider."
SIGNATAIRE_ONLY = "Seul un signataire de l'établissement peut valider ces données."


@dataclass(frozen=True)
class IdentificationAbilities:
    validate: bool
    reason: str = ""  # why the data are read-only, in French, for the page


def precampaign_closed_reason(campaign) -> str:
    if not (campaign.precampaign_start and campaign.precampaign_end):
        return "La pré-campagne est fermée : aucune date d'ouverture n'est fixée pour cette campagne."
    start = date_format(campaign.precampaign_start, "j F Y")
    end = date_format(campaign.precampaign_end, "j F Y")
    return f"La pré-campagne est fermée : ouverte du {start} au {end}."


def identification_abilities(campaign, *, role: str | None, today: datetime.date) -> IdentificationAbilities:
    """A signataire of the EJ validates its ET's data while the campaign's pré-campagne is open (bounds
    included); everybody else, agency staff included, reads them."""
    if campaign is None:
        return IdentificationAbilities(validate=False, reason=NO_CAMPAIGN)
    if not campaign.is_precampaign_open(today):
        return IdentificationAbilities(validate=False, reason=precampaign_closed_reason(campaign))
    if role != MembershipRole.SIGNATAIRE:
        return IdentificationAbilities(validate=False, reason=SIGNATAIRE_ONLY)
    return IdentificationAbilities(validate=True)
