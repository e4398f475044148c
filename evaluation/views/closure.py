"""« Clore la saisie »."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ecars.lib.http import client_ip
from evaluation import services
from evaluation.views.common import get_self_evaluation_for_user, page_context


@require_http_methods(["GET", "POST"])
def close(request, self_evaluation):
    """« Clore la saisie »: the red questions if any; else a summary to confirm, then the closure."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    context = page_context(request, self_evaluation)
    if request.method == "POST":
        try:
            services.close_self_evaluation(self_evaluation, acting_user=request.user, ip_address=client_ip(request))
        except services.ClosureRefused as refusal:
            messages.error(request, str(refusal))
            return redirect("evaluation:close", self_evaluation.public_id)
        messages.success(request, "La saisie est close : votre contrat passe en consultation.")
        return redirect("contracts:contract_detail", self_evaluation.contract.public_id)
    return render(request, "evaluation/close.html", context)
