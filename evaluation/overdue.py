"""« Clôturée d'office » (`manage.py close_overdue`, daily by cron): at the deadline, each self-evaluation still in
« Auto-Evaluation » whose deadline (its EJ's extension included) has passed is closed as it stands, with the reason
in its transition, and its attestation de clôture is e-mailed to every member of the EJ and to the contract's ARS
contact (a `Notice` per member). One transaction per self-evaluation, its row locked and checked again first: a
signataire's closure or an extension granted meanwhile wins, and a stopped run resumes where it stopped.
"""

import datetime

from django.db import transaction
from django.db.models import Q

from contracts.models import Membership
from evaluation import services
from evaluation.enums import NoticeKind
from evaluation.enums import SelfEvaluationState as State
from evaluation.models import Notice, SelfEvaluation


def overdue(today: datetime.date):
    """The self-evaluations still in « Auto-Evaluation » whose last day of writing is before `today`."""
    return SelfEvaluation.objects.filter(
        Q(extended_until__isnull=True) | Q(extended_until__lt=today),
        state=State.AUTO_EVALUATION,
        campaign__self_assessment_deadline__lt=today,
    )


def close_all(today: datetime.date, *, progress_bar=lambda items, total: items) -> int:
    """Close d'office every overdue self-evaluation; returns how many were closed."""
    closed = 0
    ids = list(overdue(today).order_by("pk").values_list("pk", flat=True))
    for pk in progress_bar(ids, len(ids)):
        with transaction.atomic():
            ej_id = SelfEvaluation.objects.filter(pk=pk).values_list("contract__ej_id", flat=True).get()
            members = [
                membership.user
                for membership in Membership.objects.filter(ej_id=ej_id, user__is_active=True)
                .select_related("user")
                .order_by("user__email")
            ]
            done = services.close_overdue(pk, today=today, members=members)
            if done is None:
                continue
            Notice.objects.bulk_create(
                Notice(self_evaluation=done, kind=NoticeKind.CLOTURE_OFFICE, recipient=user, deadline=done.deadline)
                for user in members
            )
            closed += 1
    return closed
