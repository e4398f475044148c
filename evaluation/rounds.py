"""Opening a période contradictoire: the first one when the report is sent (evaluation.reports), the next
ones from the observations' answers (evaluation.contradictory). One function, so that every round is opened
the same way: a numbered ContradictoryRound, the self-evaluation's deadline, the transition and its audit."""

import datetime

from django.utils import timezone

from ecars.lib.http import RequestContext
from evaluation import services
from evaluation.enums import SelfEvaluationState
from evaluation.models import ContradictoryRound, SelfEvaluation


class RoundRefused(Exception):
    """The période contradictoire cannot be opened; the message is shown to the agent."""


def check_deadline(deadline: datetime.date | None, *, today: datetime.date | None = None) -> datetime.date:
    """The deadline of a new round, or RoundRefused with the reason: it is required and after today."""
    today = today or timezone.localdate()
    if deadline is None:
        raise RoundRefused("Indiquez la date limite des observations de la période contradictoire.")
    if deadline <= today:
        raise RoundRefused(f"La date limite des observations doit être postérieure à aujourd'hui ({today:%d/%m/%Y}).")
    return deadline


def open_round(
    locked: SelfEvaluation,
    *,
    deadline: datetime.date,
    acting_user,
    reason: str = "",
    context: RequestContext | None = None,
) -> ContradictoryRound:
    """Open the next période contradictoire of `locked` (a self-evaluation whose row the caller has locked,
    inside the caller's transaction) until `deadline`: state « Période contradictoire », round n + 1.

    Raises RoundRefused (bad deadline) or services.TransitionRefused (a state that allows no round).
    """
    check_deadline(deadline)
    moved = services.transition(
        locked, to_state=SelfEvaluationState.CONTRADICTOIRE, acting_user=acting_user, reason=reason, context=context
    )
    moved.contradictory_deadline = deadline
    moved.save(update_fields=["contradictory_deadline", "updated_at"])
    locked.state, locked.contradictory_round, locked.contradictory_deadline = (
        moved.state,
        moved.contradictory_round,
        moved.contradictory_deadline,
    )
    return ContradictoryRound.objects.create(
        self_evaluation=locked,
        number=moved.contradictory_round,
        deadline=deadline,
        opened_by=acting_user,
        opened_at=timezone.now(),
    )
