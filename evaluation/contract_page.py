"""What `evaluation` shows on the pages of `contracts`, through the hooks of contracts/hooks.py
(registered in evaluation/apps.py): `contracts` knows nothing of self-evaluations.

- `self_evaluation_blocks`: on the contract page, the state banner, the buttons, the receipt and the
  closing countdown, then the campaign's calendar and the extension requests; for agents, why the contract
  has no self-evaluation in the campaign running today;
- `current_states`: « Etat en cours » of contracts (the EJ page, the contract admin);
- `precampaign_window`: the pré-campagne of a contract's current campaign (identification data).
"""

import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.formats import date_format

from contracts.hooks import Block, PrecampaignWindow
from contracts.perms import may, role_in_ej
from ecars import privileges
from evaluation import current_campaign, extensions
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
    missing = _missing_self_evaluation_block(request.user, contract, self_evaluation, today)
    if self_evaluation is None:
        return [banner, *missing]
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
        *missing,
        Block("evaluation/_contract_actions.html", actions, "actions"),
        *_reports_block(request.user, self_evaluation, role),
        *_contradictory_block(request.user, self_evaluation, role),
        Block("evaluation/_contract_calendar.html", calendar, "body"),
    ]


# The states in which a report has been sent to the establishment.
REPORTED_STATES = (
    SelfEvaluationState.RAPPORT_ENVOYE,
    SelfEvaluationState.CONTRADICTOIRE,
    SelfEvaluationState.DEFINITIVE,
)


def _reports_block(user, self_evaluation, role) -> list[Block]:
    """« Rapport d'évaluation »: each version sent to the establishment, to download (members of the EJ through
    the portal, where the first download is the read receipt; agents through « Évaluations »)."""
    if self_evaluation.state not in REPORTED_STATES:
        return []  # no report is sent before: no query
    sent = list(self_evaluation.reports.filter(sent_at__isnull=False).order_by("-version"))
    if not sent:
        return []
    staff = privileges.role_of(user) is not None
    if not staff and role is None:
        return []
    return [
        Block(
            "evaluation/_contract_reports.html",
            {"self_evaluation": self_evaluation, "reports": sent, "staff": staff},
            "body",
        )
    ]


def _contradictory_block(user, self_evaluation, role) -> list[Block]:
    """« Période contradictoire n° N — observations jusqu'au … » for the EJ's members: the observations
    drafted and sent, and « Envoyer mes observations » for the signataires while drafts wait."""
    from evaluation import contradictory

    if role is None or self_evaluation.state != SelfEvaluationState.CONTRADICTOIRE:
        return []
    current = contradictory.current_round(self_evaluation)
    if current is None:
        return []
    drafts, sent = contradictory.drafts_and_sent(current)
    can = abilities(self_evaluation, role=role)
    context = {
        "self_evaluation": self_evaluation,
        "round": current,
        "drafts": drafts,
        "sent": sent,
        "may_send": can.send_observations and drafts > 0 and current.observations_sent_at is None,
        "open": can.contesting and current.observations_sent_at is None,
    }
    return [Block("evaluation/_contract_contradictory.html", context, "body")]


def _missing_self_evaluation_block(user, contract, self_evaluation, today) -> list[Block]:
    """For agents (staff roles) only: why the contract has no self-evaluation in the campaign running today,
    or none at all, and how to open it. Establishment users see the page as it is."""
    if privileges.role_of(user) is None:
        return []
    situation = current_campaign.situation_of(contract, today)
    current = situation.current
    if self_evaluation is not None and (
        current is None
        or self_evaluation.campaign_id == current.pk
        or SelfEvaluation.objects.filter(contract=contract, campaign=current).exists()
    ):
        return []
    may_open = may(user, "contracts.contract", "open", ej=contract.ej)
    reason = current_campaign.missing_self_evaluation_reason(contract, situation, may_open=may_open)
    return [Block("evaluation/_contract_opening.html", {"reason": reason, "may_open": may_open}, "actions")]


def current_states(contracts, today: datetime.date | None = None) -> dict[int, str]:
    """« Etat en cours » of each contract, from the self-evaluation of its latest campaign (contracts without
    one are left out). One query for the whole list.

    The manual's two words, as on the contract's banner, but for the contract rather than for one user:
    « Auto-Evaluation » while the establishment may write (the state and the calendar, extension included:
    `SelfEvaluation.is_open_on`, the rule of evaluation/perms.py), « Consultation » once it may not, with the
    phase after it (« Consultation — clôturée »…). Before writing opens: « Pré-campagne ».
    """
    ids = [contract.pk for contract in contracts]
    if not ids:
        return {}
    today = today or timezone.localdate()
    # The latest self-evaluation of each contract (`latest_first`), with the campaign's calendar; a correlated
    # subquery rather than DISTINCT ON, which the demo's SQLite lacks.
    latest_of_its_contract = (
        SelfEvaluation.objects.filter(contract_id=OuterRef("contract_id")).latest_first().values("pk")[:1]
    )
    latest = (
        SelfEvaluation.objects.filter(contract_id__in=ids, pk=Subquery(latest_of_its_contract))
        .select_related("campaign")
        .only(
            "contract_id",
            "state",
            "extended_until",
            "campaign__self_assessment_start",
            "campaign__self_assessment_deadline",
        )
    )
    return {self_evaluation.contract_id: state_label(self_evaluation, today) for self_evaluation in latest}


def state_label(self_evaluation: SelfEvaluation, today: datetime.date) -> str:
    """« Etat en cours » of one self-evaluation (its campaign loaded) on `today`."""
    if self_evaluation.is_open_on(today):
        return "Auto-Evaluation"
    state = self_evaluation.state
    if state == SelfEvaluationState.PRE_CAMPAGNE:
        return SelfEvaluationState.PRE_CAMPAGNE.label
    if state == SelfEvaluationState.AUTO_EVALUATION:
        start = self_evaluation.campaign.self_assessment_start
        if today < start:
            return f"Consultation — saisie à partir du {date_format(start, 'j F Y')}"
        return "Consultation — date limite passée"
    label = SelfEvaluationState(state).label
    return f"Consultation — {label[0].lower()}{label[1:]}"


def precampaign_window(contract, today: datetime.date) -> PrecampaignWindow | None:
    """The pré-campagne of the contract's current campaign (that of its latest self-evaluation), or None."""
    self_evaluation = current_self_evaluation(contract)
    if self_evaluation is None:
        return None
    campaign = self_evaluation.campaign
    return PrecampaignWindow(
        year=campaign.year, start=campaign.precampaign_start, end=campaign.precampaign_end, name=campaign.name
    )
