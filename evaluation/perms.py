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
from contracts.perms import in_region, role_in_ej
from ecars import privileges
from evaluation.enums import EvaluatingBody, SelfEvaluationState, Verdict
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
    # The evaluation (DESIGN.md §4), for agency staff of the EJ's region:
    body: str | None = None  # the evaluating body this user decides for (ARS, AM, OMEDIT), None otherwise
    evaluating: bool = False  # decide now on the questions of `body` (self-evaluation clôturée or en évaluation)
    consolidating: bool = False  # record consolidated decisions and the intéressement, before the report is sent
    reporting: bool = False  # generate and send reports, answer observations, open a new round, send the final
    # The période contradictoire, for the EJ's members who write:
    contesting: bool = False  # draft observations now (a round is open and its deadline not passed)
    send_observations: bool = False  # « Envoyer mes observations » (signataires)

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

    def decide(self, question) -> bool:
        """Whether this user may record their body's decision on `question` now: the referential gives the
        question to their body (`Node.evaluating_bodies`) and the evaluation is open."""
        return self.evaluating and self.body in _indicator(question).evaluating_bodies

    def fill(self, question) -> bool:
        """Whether this user may answer `question` for their body now: a question « renseignée par » the ARS,
        the AM or the OMEDIT (a grey dot for the establishment) is filled by that body during the evaluation."""
        return self.evaluating and _indicator(question).filled_by == self.body

    def contest(self, value) -> bool:
        """Whether this user may present observations on the answer `value` (its `consolidation` loaded) now:
        the période contradictoire is open to them, and its consolidated decision is not « Atteint »."""
        consolidation = getattr(value, "consolidation", None)
        return self.contesting and consolidation is not None and consolidation.verdict != Verdict.ATTEINT


def _indicator(question) -> Node:
    if isinstance(question, Node):
        return question
    if isinstance(question, IndicatorValue):
        return question.indicator
    return question.node


# The states in which the bodies decide, and those in which the ARS consolidates and reports.
EVALUATION_STATES = (SelfEvaluationState.CLOTUREE, SelfEvaluationState.EN_EVALUATION)
CONSOLIDATION_STATES = (SelfEvaluationState.EN_EVALUATION,)
REPORTING_STATES = (
    SelfEvaluationState.EN_EVALUATION,
    SelfEvaluationState.RAPPORT_ENVOYE,
    SelfEvaluationState.CONTRADICTOIRE,
)
# The body an agent decides for, by staff role (national administrators consolidate, they do not decide).
BODY_OF_ROLE = {
    privileges.ARS: EvaluatingBody.ARS,
    privileges.AM: EvaluatingBody.AM,
    privileges.OMEDIT: EvaluatingBody.OMEDIT,
}


def abilities(
    self_evaluation: SelfEvaluation | None,
    *,
    role: str | None,
    today: datetime.date | None = None,
    staff=None,
) -> Abilities:
    """The abilities of a member of `role` in the EJ (None: not a member, agency staff included) on
    `self_evaluation` on `today` (None: nothing to do); `staff`, the user when they are agency staff, adds
    the evaluation's powers (their body's decisions, the ARS's consolidation and reports) in their region."""
    if self_evaluation is None:
        return Abilities()
    today = today or timezone.localdate()
    write = role in WRITER_ROLES and self_evaluation.is_open_on(today)
    signataire = role == MembershipRole.SIGNATAIRE
    contesting = role in WRITER_ROLES and self_evaluation.is_contestable_on(today)
    powers = {}
    if staff is not None and in_region(staff, self_evaluation.contract.ej.region_id):
        state = self_evaluation.state
        body = BODY_OF_ROLE.get(privileges.role_of(staff))
        label = "evaluation.evaluation"
        powers = {
            "body": body,
            "evaluating": body is not None
            and state in EVALUATION_STATES
            and privileges.allows(staff, label, "decide"),
            "consolidating": state in CONSOLIDATION_STATES and privileges.allows(staff, label, "consolidate"),
            "reporting": state in REPORTING_STATES and privileges.allows(staff, label, "report"),
        }
    return Abilities(
        write=write,
        close=write and signataire,
        assign=write and signataire,
        contesting=contesting,
        send_observations=contesting and signataire,
        **powers,
    )


def abilities_for(self_evaluation: SelfEvaluation, user, *, today: datetime.date | None = None) -> Abilities:
    """The abilities of `user` on `self_evaluation` (its contract and EJ loaded) on `today` (default: today)."""
    if privileges.role_of(user) is not None:
        return abilities(self_evaluation, role=None, today=today, staff=user)
    role = (
        self_evaluation.member_role
        if _read_for(self_evaluation, user)
        else role_in_ej(user, self_evaluation.contract.ej)
    )
    return abilities(self_evaluation, role=role, today=today)


def _read_for(self_evaluation: SelfEvaluation, user) -> bool:
    """Whether `self_evaluation` was read by `SelfEvaluation.objects.for_user(user)`, its `member_role` that of
    `user` (the pages' lookup): no query more for the role."""
    return getattr(self_evaluation, "read_for_user_id", None) == user.pk and hasattr(self_evaluation, "member_role")
