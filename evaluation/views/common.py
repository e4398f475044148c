"""What the self-evaluation pages share: the single lookup, and the header's context."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from evaluation.models import IndicatorValue, SelfEvaluation
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


def question_url(value, anchor="question") -> str:
    url = reverse("evaluation:question", args=[value.self_evaluation.public_id, value.indicator.code])
    if value.etablissement:
        url += f"?et={value.etablissement.finess}"
    return f"{url}#{anchor}"


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
