"""What a user may do with a self-evaluation now: one abilities object, computed once per page or per write,
that the tree's dots, the services, the forms and the templates all read.

- `abilities_for(self_evaluation, user)`: the abilities of `user`, whose role in the EJ is asked once
  (`contracts.perms.role_in_ej`);
- `abilities(self_evaluation, role=…)`: the same from a role already known (the contract page has it);
- `Abilities.edit(question)`: whether the user may change that question's answer now.

The rules (DESIGN.md §4): contributeurs and signataires write while the self-evaluation is open (state and
calendar, extension included), on the questions the establishment answers; only signataires close it and
confide questions to colleagues. Readers and agency staff read.
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from contracts.enums import MembershipRole
from contracts.perms import role_in_ej
from evaluation.models import IndicatorValue, Node, SelfEvaluation


# « Clôture dans N jours » is shown from this many days before the deadline.
DEADLINE_WARNING_DAYS = 15

# The members who write: they fill the questions, may be confided some, and ask for extensions.
WRITER_ROLES = (MembershipRole.CONTRIBUTEUR, MembershipRole.SIGNATAIRE)


@dataclass(frozen=True)
class Abilities:
    """One user's powers on one self-evaluation, now.

    The powers over the whole self-evaluation are fields, decided once; the powers over one question are
    methods, decided from those fields and the question alone, so that a 300-question tree costs no query
    more. The evaluation phase adds its own the same way: a field saying what the user may do in this state
    (which body they evaluate for, whether the contradictory period is open to them), and the methods
    `decide(question)` and `contest(question)` next to `edit`.
    """

    write: bool = False  # fill the questions now (« Saisir les indicateurs » in writing mode)
    close: bool = False  # « Clore la saisie »
    assign: bool = False  # « Confier » questions to a colleague

    @property
    def banner(self) -> str:
        """The manual's banner: « Auto-Evaluation » when this user may write now, « Consultation » otherwise."""
        return "Auto-Evaluation" if self.write else "Consultation"

    def edit(self, question) -> bool:
        """Whether this user may change the answer to `question` now: writing is open to them and the
        establishment answers that question (ARS, AM and OMEDIT answer theirs elsewhere).

        `question` is a question of the tree (`evaluation.tree.Question`), an indicator value (its indicator
        loaded) or the indicator itself.
        """
        return self.write and _indicator(question).is_filled_by_establishment


def _indicator(question) -> Node:
    if isinstance(question, Node):
        return question
    if isinstance(question, IndicatorValue):
        return question.indicator
    return question.node


def abilities(
    self_evaluation: SelfEvaluation | None, *, role: str | None, today: datetime.date | None = None
) -> Abilities:
    """The abilities of a member of `role` in the EJ (None: not a member, agency staff included) on
    `self_evaluation` on `today` (None: nothing to do)."""
    if self_evaluation is None:
        return Abilities()
    today = today or timezone.localdate()
    write = role in WRITER_ROLES and self_evaluation.is_open_on(today)
    signataire = role == MembershipRole.SIGNATAIRE
    return Abilities(write=write, close=write and signataire, assign=write and signataire)


def abilities_for(self_evaluation: SelfEvaluation, user, *, today: datetime.date | None = None) -> Abilities:
    """The abilities of `user` on `self_evaluation` (its contract and EJ loaded) on `today` (default: today)."""
    return abilities(self_evaluation, role=role_in_ej(user, self_evaluation.contract.ej), today=today)
