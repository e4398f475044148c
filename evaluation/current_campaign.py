"""The campaign a contract takes part in now, and why a contract has no self-evaluation in it.

A contract's current campaign is a campaign of its type covering its EJ's region whose calendar runs today:
from the opening of its pré-campagne (or of its auto-évaluation, when it has no pré-campagne) to the
deadline of its auto-évaluation, bounds included. « Ouvrir l'auto-évaluation » (`evaluation.services.
open_current_self_evaluation`) opens the contract's self-evaluation in that campaign; the contract page tells
agents why a contract has none yet (`missing_self_evaluation_reason`).
"""

import datetime
from dataclasses import dataclass

from django.utils.formats import date_format

from contracts.enums import ContractStatus
from evaluation.models import Campaign


def opens_on(campaign: Campaign) -> datetime.date:
    """The first day of the campaign's calendar: its pré-campagne, or its auto-évaluation without one."""
    if campaign.precampaign_start and campaign.precampaign_start < campaign.self_assessment_start:
        return campaign.precampaign_start
    return campaign.self_assessment_start


def in_precampaign(campaign: Campaign, today: datetime.date) -> bool:
    """Whether the campaign runs today but its auto-évaluation has not opened yet."""
    return opens_on(campaign) <= today < campaign.self_assessment_start


@dataclass(frozen=True)
class CampaignSituation:
    """The campaigns of a contract's type and region around `today`."""

    today: datetime.date
    current: Campaign | None  # running today (the latest, should several overlap)
    upcoming: Campaign | None  # the next to open, when none runs
    region_name: str
    type_code: str

    def no_current_reason(self) -> str:
        """Why there is no campaign to open a self-evaluation in (when `current` is None), in French."""
        if self.upcoming is not None:
            return (
                f"La campagne « {self.upcoming.name} » n'est pas encore ouverte "
                f"(ouverture le {_day(opens_on(self.upcoming))})."
            )
        return f"Aucune campagne {self.type_code} n'est en cours pour la région {self.region_name}."


def situation_of(contract, today: datetime.date) -> CampaignSituation:
    """The campaigns of `contract` (its type and EJ, with the region, loaded) around `today`, in one query."""
    unfinished = Campaign.objects.filter(
        contract_type_id=contract.contract_type_id,
        regions=contract.ej.region_id,
        self_assessment_deadline__gte=today,
    ).order_by("-year", "-self_assessment_start", "-pk")
    running, later = [], []
    for campaign in unfinished:
        (running if opens_on(campaign) <= today else later).append(campaign)
    return CampaignSituation(
        today=today,
        current=running[0] if running else None,
        upcoming=min(later, key=opens_on) if later else None,
        region_name=contract.ej.region.name,
        type_code=contract.contract_type.code,
    )


def missing_self_evaluation_reason(contract, situation: CampaignSituation, *, may_open: bool) -> str:
    """For agents, on the contract page: why the contract has no self-evaluation in a campaign running today
    (or none at all), and what to do about it. `may_open`: whether this agent holds « Ouvrir
    l'auto-évaluation » on the contract."""
    action = (
        "utilisez l'action « Ouvrir l'auto-évaluation » de la liste des contrats dans l'administration"
        if may_open
        else "un agent ARS de la région peut l'ouvrir (action « Ouvrir l'auto-évaluation » de l'administration)"
    )
    if contract.status != ContractStatus.SIGNE:
        return (
            f"Ce contrat n'a pas d'auto-évaluation : il n'est pas signé (statut « {contract.get_status_display()} »), "
            "et seuls les contrats signés sont évalués."
        )
    campaign = situation.current
    if campaign is None:
        if situation.upcoming is not None:
            upcoming = situation.upcoming
            return (
                f"Ce contrat n'a pas encore d'auto-évaluation : la campagne « {upcoming.name} » n'est pas encore "
                f"ouverte (ouverture le {_long_day(opens_on(upcoming))}). À partir de cette date, {action}."
            )
        return (
            f"Ce contrat n'a pas d'auto-évaluation : aucune campagne {situation.type_code} n'est en cours ni "
            f"prévue pour la région {situation.region_name}. Une campagne se crée dans l'administration "
            "(« Campagnes »)."
        )
    if in_precampaign(campaign, situation.today):
        period = f"en pré-campagne, l'auto-évaluation ouvrira le {_long_day(campaign.self_assessment_start)}"
    else:
        period = (
            f"auto-évaluation ouverte du {_long_day(campaign.self_assessment_start)} "
            f"au {_long_day(campaign.self_assessment_deadline)}"
        )
    return (
        f"La campagne « {campaign.name} » est en cours ({period}), mais l'auto-évaluation de ce contrat n'y a "
        f"pas encore été ouverte : {action}."
    )


def _day(date: datetime.date) -> str:
    return f"{date:%d/%m/%Y}"


def _long_day(date: datetime.date) -> str:
    return date_format(date, "j F Y")
