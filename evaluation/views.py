"""« Saisir les indicateurs » (the tree) and « Clore la saisie »."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from ecars.lib.http import client_ip
from evaluation import services
from evaluation.models import SelfEvaluation
from evaluation.perms import abilities, role_in_ej
from evaluation.tree import build_tree


def get_self_evaluation_for_user(request, self_evaluation) -> SelfEvaluation:
    """The self-evaluation of public id `self_evaluation` if the user may see it; 404 otherwise."""
    return get_object_or_404(
        SelfEvaluation.objects.for_user(request.user).select_related(
            "campaign", "contract__ej__region", "contract__contract_type"
        ),
        public_id=self_evaluation,
    )


def _page_context(request, self_evaluation):
    can = abilities(self_evaluation, role=role_in_ej(request.user, self_evaluation.contract.ej))
    tree = build_tree(self_evaluation, can_write=can.write)
    return {
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "can": can,
        "tree": tree,
        "support_region": self_evaluation.contract.ej.region,
    }


@require_safe
def indicators(request, self_evaluation):
    """The contract's tree with its dots and « Pourcentage de remplissage »."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    return render(request, "evaluation/indicators.html", _page_context(request, self_evaluation))


@require_http_methods(["GET", "POST"])
def close(request, self_evaluation):
    """« Clore la saisie »: the red questions if any; else a summary to confirm, then the closure."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    context = _page_context(request, self_evaluation)
    if request.method == "POST":
        try:
            services.close_self_evaluation(self_evaluation, acting_user=request.user, ip_address=client_ip(request))
        except services.ClosureRefused as refusal:
            messages.error(request, str(refusal))
            return redirect("evaluation:close", self_evaluation.public_id)
        messages.success(request, "La saisie est close : votre contrat passe en consultation.")
        return redirect("contracts:contract_detail", self_evaluation.contract.public_id)
    return render(request, "evaluation/close.html", context)
