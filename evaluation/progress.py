"""The fill percentage of many self-evaluations at once, in one query: what reminders, close_overdue and the
campaign dashboard read (the tree, evaluation/tree.py, gives the same figures for one self-evaluation).

« Pourcentage de remplissage »: filled required establishment questions ÷ all of them, rounded down, 100 % when
there is nothing to fill (DESIGN.md §4, `evaluation.tree.percent`).
"""

from django.db import connection
from django.db.models import Count, Q

from evaluation.enums import FilledBy
from evaluation.models import IndicatorValue
from evaluation.tree import percent


# The values that count in the fill percentage, and those of them that are filled.
COUNTED = Q(indicator__filled_by=FilledBy.ETABLISSEMENT, indicator__required=True) & ~Q(indicator__value_type="")
FILLED = Q(not_applicable=True) | ~Q(value="")


def fill_counts(self_evaluations) -> dict[int, tuple[int, int]]:
    """{self-evaluation pk: (filled, total)} for the self-evaluations of the queryset `self_evaluations`
    (one GROUP BY query; a self-evaluation with nothing to fill has no entry)."""
    rows = (
        IndicatorValue.objects.filter(COUNTED, self_evaluation__in=self_evaluations)
        .values("self_evaluation")
        .annotate(total=Count("pk"), filled=Count("pk", filter=FILLED))
        .order_by()
    )
    return {row["self_evaluation"]: (row["filled"], row["total"]) for row in rows}


# `fill_counts` for one self-evaluation, as a statement prepared once per connection: the contract's fill
# percentage in a few tenths of a millisecond, by the (self_evaluation, indicator) unique index (DESIGN.md §7's
# ≤ 1 ms; building the ORM query costs more than running it). The same rule as COUNTED and FILLED.
ONE_FILL_SQL = """
    SELECT count(*) FILTER (WHERE value.not_applicable OR value.value <> ''), count(*)
    FROM evaluation_indicatorvalue value
    JOIN evaluation_node node ON node.id = value.indicator_id
    WHERE value.self_evaluation_id = %s AND node.filled_by = %s AND node.required AND node.value_type <> ''
"""


def fill_percentage(self_evaluation_id: int) -> int:
    """The « Pourcentage de remplissage » of one self-evaluation (the tree's figure, without the tree)."""
    with connection.cursor() as cursor:
        cursor.execute(ONE_FILL_SQL, [self_evaluation_id, FilledBy.ETABLISSEMENT])
        filled, total = cursor.fetchone()
    return percent(filled, total)


def fill_percent(counts: dict[int, tuple[int, int]], self_evaluation_id: int) -> int:
    filled, total = counts.get(self_evaluation_id, (0, 0))
    return percent(filled, total)


def red_questions(self_evaluations) -> dict[int, list[IndicatorValue]]:
    """{self-evaluation pk: its values still to fill (the red dots), in the referential's order}, in one query."""
    missing: dict[int, list[IndicatorValue]] = {}
    values = (
        IndicatorValue.objects.filter(COUNTED, self_evaluation__in=self_evaluations)
        .exclude(FILLED)
        .select_related("indicator", "etablissement")
        .order_by("self_evaluation", "indicator__position", "indicator__pk", "etablissement__finess")
    )
    for value in values:
        missing.setdefault(value.self_evaluation_id, []).append(value)
    return missing
