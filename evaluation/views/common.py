"""What the self-evaluation pages share: the single lookup, and the header's context."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from ecars.lib.logs import note_ej
from evaluation.models import IndicatorValue, SelfEvaluation
from evaluation.perms import abilities_for
from evaluation.tree import build_tree, referential_nodes
from evaluation.tree_html import tree_html


def get_self_evaluation_for_user(request, self_evaluation, *, lock: bool = False) -> SelfEvaluation:
    """The self-evaluation of public id `self_evaluation` if the user may see it, with the user's role in its EJ
    (`evaluation.perms.abilities_for` then asks no query); 404 otherwise. With `lock`, its row is locked until
    the request's transaction ends, as the services' writes lock it (`evaluation.services.lock_for_writing`)."""
    user = request.user
    if lock and user.is_active and not user.is_superuser and not user.is_agency_staff:
        # An establishment's save: what the services read (the pages' other rows, on a refusal only, come when asked)
        found = SelfEvaluation.objects.locked_for_member(self_evaluation, user)
        if found is None:
            raise Http404("Pas d'auto-évaluation de cet identifiant pour vous.")
        found.read_for_user_id = user.pk
        note_ej(request, found.contract.ej)
        return found
    if lock:
        queryset = SelfEvaluation.objects.for_user(request.user).select_related(
            "campaign__referential", "contract__ej"
        )
        queryset = queryset.select_for_update(of=("self",))
    else:
        queryset = SelfEvaluation.objects.for_user(request.user).select_related(
            "campaign__referential", "contract__ej__region"
        )
    found = get_object_or_404(queryset, public_id=self_evaluation)
    found.read_for_user_id = request.user.pk
    note_ej(request, found.contract.ej)
    return found


def get_question_value(self_evaluation, code, et_finess, *, lock: bool = False) -> IndicatorValue:
    """The question `code` of the self-evaluation (of the ET `et_finess`, if given), its row locked with `lock`;
    404 otherwise. Its indicator (and the indicator's parent) come from the referential's cached nodes."""
    indicator = referential_nodes(self_evaluation).by_code.get(code)
    if indicator is None:
        raise Http404("Pas de question de ce code dans ce contrat.")
    if lock:  # every save: one row, its ET (an ET-level question's) read when asked
        value = IndicatorValue.objects.locked(
            self_evaluation_id=self_evaluation.pk, indicator_id=indicator.pk, et_finess=et_finess
        )
        if value is None:
            raise Http404("Pas de question de ce code dans ce contrat.")
    else:
        queryset = IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator=indicator)
        if et_finess:
            queryset = queryset.filter(etablissement__finess=et_finess)
        else:
            queryset = queryset.filter(etablissement__isnull=True)
        value = get_object_or_404(queryset.select_related("etablissement", "assigned_to"))
    value.indicator = indicator
    value.self_evaluation = self_evaluation
    return value


def page_context(request, self_evaluation, *, assigned_to=None, current_pk=None):
    """The context of the pages under the header and the tree: the user's abilities (`can`, computed once
    here), the tree, and whether it shows only the questions confided to the user (« Mes questions »)."""
    can = abilities_for(self_evaluation, request.user)
    tree = build_tree(self_evaluation, can=can, assigned_to=assigned_to, light=True)
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
