"""What the self-evaluation pages share: the single lookup, and the header's context."""

from django.shortcuts import get_object_or_404

from evaluation.models import IndicatorValue, SelfEvaluation
from evaluation.perms import abilities_for
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


def get_question_value(self_evaluation, code, et_finess) -> IndicatorValue:
    """The question `code` of the self-evaluation (of the ET `et_finess`, if given); 404 otherwise."""
    queryset = IndicatorValue.objects.filter(
        self_evaluation=self_evaluation,
        # With the referential, the (referential, code) unique index finds the indicator at once.
        indicator__referential_id=self_evaluation.campaign.referential_id,
        indicator__code=code,
    ).select_related("indicator__parent", "etablissement", "assigned_to")
    if et_finess:
        queryset = queryset.filter(etablissement__finess=et_finess)
    else:
        queryset = queryset.filter(etablissement__isnull=True)
    value = get_object_or_404(queryset)
    value.self_evaluation = self_evaluation
    return value


def page_context(request, self_evaluation, *, assigned_to=None, current_pk=None):
    """The context of the pages under the header and the tree: the user's abilities (`can`, computed once
    here), the tree, and whether it shows only the questions confided to the user (« Mes questions »)."""
    can = abilities_for(self_evaluation, request.user)
    tree = build_tree(self_evaluation, can=can, assigned_to=assigned_to)
    return {
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "can": can,
        "tree": tree,
        "current_question": None,
        "tree_html": tree_html(tree, current_pk=current_pk),
        "only_my_questions": assigned_to is not None,
        "support_region": self_evaluation.contract.ej.region,
    }
