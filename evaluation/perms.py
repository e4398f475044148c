"""What a user may do with a self-evaluation, computed once and used by both pages and views."""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from contracts.enums import MembershipRole
from contracts.perms import role_in_ej  # noqa: F401 (TRANSITION: callers import it from contracts.perms)
from evaluation.models import SelfEvaluation


# « Clôture dans N jours » is shown from this many days before the deadline.
DEADLINE_WARNING_DAYS = 15


@dataclass(frozen=True)
class Abilities:
    write: bool  # fill the questions now (« Saisir les indicateurs » in writing mode)
    close: bool  # « Clore la saisie »

    @property
    def banner(self) -> str:
        """The manual's banner: « Auto-Evaluation » when this user may write now, « Consultation » otherwise."""
        return "Auto-Evaluation" if self.write else "Consultation"


def abilities(
    self_evaluation: SelfEvaluation | None, *, role: str | None, today: datetime.date | None = None
) -> Abilities:
    """The rules of DESIGN.md §4: contributors and signatories write while the self-evaluation is open
    (state and calendar, extension included); only signatories close it. Readers and agency staff read."""
    if self_evaluation is None:
        return Abilities(write=False, close=False)
    today = today or timezone.localdate()
    write = role in (MembershipRole.CONTRIBUTEUR, MembershipRole.SIGNATAIRE) and self_evaluation.is_open_on(today)
    return Abilities(write=write, close=write and role == MembershipRole.SIGNATAIRE)
