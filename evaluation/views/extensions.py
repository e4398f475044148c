"""« Demander une prolongation »: the establishment asks the ARS to write after the deadline."""

import datetime

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ecars.lib.http import request_context
from evaluation import extensions
from evaluation.models import SelfEvaluation
from evaluation.perms import abilities_for
from evaluation.views.common import get_self_evaluation_for_user


class ExtensionRequestForm(forms.Form):
    requested_until = forms.DateField(
        label="Prolongation demandée jusqu'au",
        error_messages={
            "required": "Indiquez la date jusqu'à laquelle vous demandez la prolongation.",
            "invalid": "Saisissez une date valide, par exemple 15/05/2026.",
        },
    )
    reason = forms.CharField(
        label="Motif",
        max_length=2000,
        error_messages={
            "required": "Indiquez le motif de votre demande.",
            "max_length": "Le motif ne peut pas dépasser %(limit_value)d caractères (%(show_value)d saisis).",
        },
    )

    def __init__(self, *args, self_evaluation: SelfEvaluation, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.self_evaluation = self_evaluation
        self.today = today

    def clean(self):
        cleaned_data = super().clean()
        errors = extensions.request_field_errors(
            self.self_evaluation,
            requested_until=cleaned_data.get("requested_until"),
            reason=cleaned_data.get("reason"),
            today=self.today,
        )
        for field, message in errors:
            self.add_error(field, message)
        return cleaned_data


@require_http_methods(["GET", "POST"])
def request_extension(request: HttpRequest, self_evaluation) -> HttpResponse:
    """The request form for contributeurs and signataires during the auto-évaluation; the pending request and
    past decisions for everyone who may see the self-evaluation."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    today = timezone.localdate()
    form = ExtensionRequestForm(
        data=request.POST if request.method == "POST" else None, self_evaluation=self_evaluation, today=today
    )
    if request.method == "POST" and form.is_valid():
        try:
            extension_request = extensions.request_extension(
                self_evaluation,
                acting_user=request.user,
                requested_until=form.cleaned_data["requested_until"],
                reason=form.cleaned_data["reason"],
                context=request_context(request),
            )
        except extensions.ExtensionRefused as refusal:
            form.add_error(refusal.field, str(refusal))
        else:
            messages.success(
                request,
                f"Votre demande de prolongation jusqu'au {extension_request.requested_until:%d/%m/%Y} est envoyée "
                "à l'ARS : vous serez informé de sa décision par courriel.",
            )
            return redirect("contracts:contract_detail", self_evaluation.contract.public_id)
    deadline = self_evaluation.deadline
    context = {
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "can": abilities_for(self_evaluation, request.user, today=today),
        "form": form,
        "refusal": extensions.request_refusal(self_evaluation, request.user),
        "deadline": deadline,
        "earliest_date": max(deadline + datetime.timedelta(days=1), today),
        "latest_date": deadline + datetime.timedelta(days=extensions.ExtensionRules.MAX_DAYS),
        "max_days": extensions.ExtensionRules.MAX_DAYS,
        "min_reason_length": extensions.ExtensionRules.MIN_REASON_LENGTH,
        "extension_requests": self_evaluation.extension_requests.select_related("requested_by", "decided_by"),
        "support_region": self_evaluation.contract.ej.region,
    }
    return render(request, "evaluation/extension_request.html", context)
