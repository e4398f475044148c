"""The ARS's consolidated decisions and the contract's intéressement (DESIGN.md §3–4).

- `consolidation_rows(self_evaluation)`: each question, in the tree's order, with the decisions of the bodies
  that evaluate it, those still awaited, whether they disagree, the prefill (their common verdict and
  motivations once all agree), and the consolidated decision recorded so far. Four queries, whatever the size.
- `consolidate(value, …)`: the ARS records the consolidated decision of one question (optimistic locking on
  `Consolidation.version`, 0 when there is none yet), while the self-evaluation is « En évaluation » and no
  report was sent: afterwards only the answer to an observation changes it (evaluation.contradictory).
- `set_incentive_amount(self_evaluation, …)`: the intéressement amount, entered by the ARS, never computed.

Private notes are the agencies' own: they are stored and shown on the evaluators' pages, never audited, never
in a report, an e-mail or an establishment page.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from audit.enums import EventType
from audit.services import record_event
from contracts.perms import in_region
from ecars import privileges
from ecars.lib.http import RequestContext
from evaluation.decisions import MOTIVATION_REQUIRED
from evaluation.enums import EvaluatingBody, Verdict
from evaluation.models import Consolidation, Decision, IndicatorValue, SelfEvaluation
from evaluation.perms import abilities_for
from evaluation.services import VersionConflict
from evaluation.tree import Question, build_tree


# The intéressement: Decimal(12, 2) in the database.
MAX_INCENTIVE = Decimal("9999999999.99")


class ConsolidationRefused(Exception):
    """The consolidated decision (or the amount) cannot be recorded; the message is shown to the agent, and
    `field` names the form's field it is about, if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class ConsolidationRow:
    """One question of the consolidation: the bodies' decisions and the consolidated one."""

    question: Question
    expected: tuple[str, ...]  # the bodies that evaluate it (Node.evaluating_bodies)
    decisions: list[Decision] = field(default_factory=list)  # in the order of `expected`, those recorded
    consolidation: Consolidation | None = None

    @property
    def value(self) -> IndicatorValue:
        return self.question.value

    @property
    def node(self):
        return self.question.node

    @property
    def missing(self) -> list[str]:
        """The bodies whose decision is awaited, by their labels (« Assurance Maladie »)."""
        decided = {decision.body for decision in self.decisions}
        return [EvaluatingBody(body).label for body in self.expected if body not in decided]

    @property
    def disagreement(self) -> bool:
        """The bodies that decided do not agree."""
        return len({decision.verdict for decision in self.decisions}) > 1

    @property
    def prefill(self) -> Verdict | None:
        """The verdict every expected body gave, once all decided the same; None otherwise."""
        if not self.expected or self.missing or self.disagreement:
            return None
        return Verdict(self.decisions[0].verdict)

    @property
    def prefill_motivation(self) -> str:
        """The bodies' motivations, joined (each once), when they agree."""
        if self.prefill is None:
            return ""
        motivations = []
        for decision in self.decisions:
            text = decision.motivation.strip()
            if text and text not in motivations:
                motivations.append(text)
        return "\n\n".join(motivations)

    @property
    def version(self) -> int:
        """The version the consolidation form was made from (0: none yet)."""
        return self.consolidation.version if self.consolidation else 0


def consolidation_rows(self_evaluation: SelfEvaluation) -> list[ConsolidationRow]:
    """Every question of `self_evaluation` (its campaign and contract's EJ loaded), in the tree's order, with
    the bodies' decisions and the consolidation. Four queries, whatever the number of questions."""
    tree = build_tree(self_evaluation)
    decisions: dict[int, list[Decision]] = {}
    for decision in Decision.objects.filter(value__self_evaluation=self_evaluation).select_related("decided_by"):
        decisions.setdefault(decision.value_id, []).append(decision)
    consolidations = {
        consolidation.value_id: consolidation
        for consolidation in Consolidation.objects.filter(value__self_evaluation=self_evaluation).select_related(
            "decided_by"
        )
    }
    order = {body: position for position, body in enumerate(EvaluatingBody.values)}
    rows = []
    for question in tree.questions:
        value_decisions = sorted(decisions.get(question.value.pk, []), key=lambda decision: order[decision.body])
        rows.append(
            ConsolidationRow(
                question=question,
                expected=question.node.evaluating_bodies,
                decisions=value_decisions,
                consolidation=consolidations.get(question.value.pk),
            )
        )
    return rows


def missing_consolidations(self_evaluation: SelfEvaluation) -> int:
    """How many questions of `self_evaluation` have no consolidated decision yet (one query)."""
    return IndicatorValue.objects.filter(self_evaluation=self_evaluation, consolidation__isnull=True).count()


def report_sent(self_evaluation: SelfEvaluation) -> bool:
    return self_evaluation.reports.filter(sent_at__isnull=False).exists()


def _lock(self_evaluation_id: int) -> SelfEvaluation:
    return (
        SelfEvaluation.objects.select_for_update(of=("self",))
        .select_related("campaign", "contract__ej")
        .get(pk=self_evaluation_id)
    )


def check_consolidating(locked: SelfEvaluation, acting_user) -> None:
    """ConsolidationRefused unless `acting_user` may consolidate `locked` now (`Abilities.consolidating`: an
    ARS agent of the EJ's region, the self-evaluation « En évaluation ») and no report was sent yet."""
    if not abilities_for(locked, acting_user).consolidating:
        if privileges.allows(acting_user, "evaluation.evaluation", "consolidate") and in_region(
            acting_user, locked.contract.ej.region_id
        ):
            raise ConsolidationRefused(
                "Les décisions consolidées et le montant de l'intéressement ne s'enregistrent qu'à l'état "
                f"« En évaluation » (état actuel : « {locked.get_state_display()} »)."
            )
        raise ConsolidationRefused(
            "Seuls les agents ARS de la région de l'établissement enregistrent les décisions consolidées et le "
            "montant de l'intéressement."
        )
    if report_sent(locked):
        raise ConsolidationRefused(
            "Le rapport d'évaluation a été envoyé : les décisions consolidées ne changent plus que par la "
            "réponse à une observation de l'établissement."
        )


@transaction.atomic
def consolidate(
    value: IndicatorValue,
    *,
    acting_user,
    verdict: str,
    motivation: str,
    private_note: str,
    expected_version: int,
    context: RequestContext | None = None,
) -> Consolidation:
    """Record the consolidated decision on `value`, if nobody recorded one since the agent's page was made
    (`expected_version`: the version they saw, 0 when there was none): VersionConflict otherwise.

    Motivation required unless « Atteint ». Refusals (ConsolidationRefused, VersionConflict) change nothing.
    A save that changes nothing writes nothing.
    """
    motivation, private_note = motivation.strip(), private_note.strip()
    if verdict not in Verdict.values:
        raise ConsolidationRefused("Choisissez la décision consolidée.", field="verdict")
    if verdict != Verdict.ATTEINT and not motivation:
        raise ConsolidationRefused(MOTIVATION_REQUIRED, field="motivation")
    locked = _lock(value.self_evaluation_id)
    check_consolidating(locked, acting_user)
    current = Consolidation.objects.select_for_update(of=("self",)).filter(value_id=value.pk).first()
    if (current.version if current else 0) != expected_version:
        raise VersionConflict(current)
    if current is None:
        current = Consolidation(value_id=value.pk, version=0)
    elif (current.verdict, current.motivation, current.private_note) == (verdict, motivation, private_note):
        return current
    previous = current.verdict
    current.verdict, current.motivation, current.private_note = verdict, motivation, private_note
    current.version += 1
    current.decided_by = acting_user
    current.decided_at = timezone.now()
    current.save()
    indicator = IndicatorValue.objects.select_related("indicator", "etablissement").get(pk=value.pk)
    record_event(
        EventType.CONSOLIDATION_RECORDED,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={
            "code": indicator.indicator.code,
            "etablissement": indicator.etablissement.finess if indicator.etablissement else "",
            "from": previous,
            "to": verdict,
            "version": current.version,
        },
        context=context,
    )
    return current


def check_amount(amount: Decimal | None) -> Decimal | None:
    """The intéressement as stored, or ConsolidationRefused: at least 0, two decimals at most."""
    if amount is None:
        return None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ConsolidationRefused("Saisissez le montant en chiffres, par exemple 12345,50.", field="amount")
    if amount < 0:
        raise ConsolidationRefused("Le montant de l'intéressement ne peut pas être négatif.", field="amount")
    if amount > MAX_INCENTIVE:
        raise ConsolidationRefused("Le montant de l'intéressement est trop élevé.", field="amount")
    if amount.as_tuple().exponent < -2:
        raise ConsolidationRefused("Deux décimales au plus.", field="amount")
    return amount.quantize(Decimal("0.01"))


@transaction.atomic
def set_incentive_amount(
    self_evaluation: SelfEvaluation, *, acting_user, amount: Decimal | None, context: RequestContext | None = None
) -> SelfEvaluation:
    """Record the contract's intéressement (None: not entered), entered by the ARS while it consolidates;
    audited with the old and the new amount. ConsolidationRefused changes nothing."""
    amount = check_amount(amount)
    locked = _lock(self_evaluation.pk)
    check_consolidating(locked, acting_user)
    old = locked.incentive_amount
    if old == amount:
        return locked
    locked.incentive_amount = amount
    locked.save(update_fields=["incentive_amount", "updated_at"])
    record_event(
        EventType.INCENTIVE_SET,
        actor=acting_user,
        ej=locked.contract.ej,
        target=locked,
        data={"old": None if old is None else str(old), "new": None if amount is None else str(amount)},
        context=context,
    )
    return locked
