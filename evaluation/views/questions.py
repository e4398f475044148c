"""« Saisir les indicateurs »: the tree, and the question form under it."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from evaluation.views.common import get_self_evaluation_for_user, page_context


@require_safe
def indicators(request, self_evaluation):
    """The contract's tree with its dots and « Pourcentage de remplissage »."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    return render(request, "evaluation/indicators.html", page_context(request, self_evaluation))
