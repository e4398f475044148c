"""What `evaluation` shows on the pages of `contracts`, through the hooks of contracts/hooks.py
(registered in evaluation/apps.py): `contracts` knows nothing of self-evaluations.

- `self_evaluation_blocks`: on the contract page, the state banner, the buttons, the receipt and the
  closing countdown, then the campaign's calendar and the extension requests;
- `current_states`: « Etat en cours » of contracts (the EJ page, the contract admin);
- `precampaign_window`: the pré-campagne of a contract's current campaign (identification data).
"""

import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from contracts.hooks import Block, PrecampaignWindow
from contracts.models import Contract
from contracts.perms import role_in_ej
from evaluation import extensions
from evaluation.enums import SelfEvaluationState
from evaluation.models import SelfEvaluation
from evaluation.perms import DEADLINE_WARNING_DAYS, abilities


def current_self_evaluation(contract) -> SelfEvaluation | None:
    """The contract's self-evaluation of its latest campaign, with the campaign."""
    return SelfEvaluation.objects.filter(contract=contract).select_related("campaign").latest_first().first()


def self_evaluation_blocks(request, contract) -> list[Block]:
    """The contract page's part of the current self-evaluation. The banner is always there (« Consultation »
    without a self-evaluation); the rest only with one."""
    self_evaluation = current_self_evaluation(contract)
    today = timezone.localdate()
    role = role_in_ej(request.user, contract.ej)
    can = abilities(self_evaluation, role=role, today=today)
    banner = Block("evaluation/_contract_banner.html", {"can": can, "self_evaluation": self_evaluation}, "header")
    if self_evaluation is None:
        return [banner]
    days_left = self_evaluation.days_left(today) if self_evaluation.is_open_on(today) else None
    receipt = self_evaluation.receipts.first() if self_evaluation.closed_at else None
    last_request = self_evaluation.extension_requests.first()
    actions = {
        "self_evaluation": self_evaluation,
        "can": can,
        "receipt": receipt,
        "days_left": days_left,
        "deadline_warning": days_left is not None and days_left <= DEADLINE_WARNING_DAYS,
    }
    calendar = {
        "self_evaluation": self_evaluation,
        "campaign": self_evaluation.campaign,
        "extended": self_evaluation.deadline != self_evaluation.campaign.self_assessment_deadline,
        "last_request": last_request,
        "may_request_extension": extensions.may_request(self_evaluation, role=role, last_request=last_request),
    }
    return [
        banner,
        Block("evaluation/_contract_actions.html", actions, "actions"),
        Block("evaluation/_contract_calendar.html", calendar, "body"),
    ]


def current_states(contracts) -> dict[int, str]:
    """« Etat en cours » of each contract, in the manual's words: the state of the self-evaluation of its
    latest campaign (contracts without one are left out). One query for the whole list."""
    ids = [contract.pk for contract in contracts]
    if not ids:
        return {}
    current = SelfEvaluation.objects.filter(contract=OuterRef("pk")).latest_first().values("state")[:1]
    rows = Contract.objects.filter(pk__in=ids).annotate(state=Subquery(current)).values_list("pk", "state")
    return {pk: SelfEvaluationState(state).label for pk, state in rows if state is not None}


def precampaign_window(contract, today: datetime.date) -> PrecampaignWindow | None:
    """The pré-campagne of the contract's current campaign (that of its latest self-evaluation), or None."""
    self_evaluation = current_self_evaluation(contract)
    if self_evaluation is None:
        return None
    campaign = self_evaluation.campaign
    return PrecampaignWindow(
        year=campaign.year, start=campaign.precampaign_start, end=campaign.precampaign_end, name=campaign.name
    )
