"""What the self-evaluation pages share: the single lookup, and the header's context."""

from django.shortcuts import get_object_or_404

from evaluation.models import SelfEvaluation
from evaluation.perms import abilities, role_in_ej
from evaluation.tree import build_tree
from evaluation.tree_html import tree_html


def get_self_evaluation_for_user(request, self_evaluation) -> SelfEvaluation:
    """The self-evaluation of public id `self_evaluation` if the user may see it; 404 otherwise."""
    return get_object_or_404(
        SelfEvaluation.objects.for_user(request.user).select_related(
            "campaign", "contract__ej__region", "contract__contract_type"
        ),
        public_id=self_evaluation,
    )


def page_context(request, self_evaluation, *, assigned_to=None, current_pk=None):
    can = abilities(self_evaluation, role=role_in_ej(request.user, self_evaluation.contract.ej))
    tree = build_tree(self_evaluation, can_write=can.write, assigned_to=assigned_to)
    return {
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "can": can,
        "tree": tree,
        "current_question": None,
        "tree_html": tree_html(tree, current_pk=current_pk),
        "mine": assigned_to is not None,
        "support_region": self_evaluation.contract.ej.region,
    }
