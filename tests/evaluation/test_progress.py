"""The fill percentage computed three ways — the tree (pages), `fill_counts` (reminders, dashboard, close_overdue)
and `fill_percentage` (one contract) — always agrees, whatever the questions."""

import pytest

from evaluation import progress
from evaluation.enums import FilledBy
from evaluation.models import SelfEvaluation
from evaluation.tree import build_tree
from tests.contracts.factories import ContractFactory
from tests.evaluation.factories import IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


def three_ways(self_evaluation):
    counts = progress.fill_counts(SelfEvaluation.objects.filter(pk=self_evaluation.pk))
    return (
        build_tree(self_evaluation).percent,
        progress.fill_percent(counts, self_evaluation.pk),
        progress.fill_percentage(self_evaluation.pk),
    )


@pytest.mark.django_db
def test_the_three_ways_agree_on_every_kind_of_question():
    self_evaluation = SelfEvaluationFactory(contract=ContractFactory())
    referential = self_evaluation.campaign.referential
    objective = NodeFactory(referential=referential, code="1")
    kinds = [
        ({}, "1", False),  # filled
        ({}, "", False),  # to fill
        ({}, "", True),  # « Non concerné » counts as filled
        ({}, "", False),
        ({"required": False}, "", False),  # optional: never counted
        ({"filled_by": FilledBy.ARS}, "", False),  # answered by the ARS: never counted
    ]
    for number, (fields, answer, not_applicable) in enumerate(kinds):
        node = NodeFactory(referential=referential, parent=objective, code=f"1.{number}", oui_non=True, **fields)
        IndicatorValueFactory(
            self_evaluation=self_evaluation,
            indicator=node,
            value=answer,
            not_applicable=not_applicable,
            not_applicable_reason="Pas d'activité de ce type." if not_applicable else "",
        )
    assert three_ways(self_evaluation) == (50, 50, 50)  # 2 of the 4 counted questions


@pytest.mark.django_db
def test_nothing_to_fill_is_one_hundred_percent():
    self_evaluation = SelfEvaluationFactory(contract=ContractFactory())
    assert three_ways(self_evaluation) == (100, 100, 100)
