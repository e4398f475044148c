"""« Saisir les indicateurs »: the tree, and the question form under it."""

from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from audit.enums import EventType
from audit.services import record_event
from contracts.enums import MembershipRole
from documents.views import question_block
from ecars.lib.http import client_ip
from evaluation import services, values
from evaluation.enums import SelfEvaluationState
from evaluation.forms import AnswerForm, AssignmentForm
from evaluation.models import IndicatorValue
from evaluation.perms import role_in_ej
from evaluation.views.common import get_question_value, get_self_evaluation_for_user, page_context, question_url


# Earlier years' evaluator comments are shown once the evaluation was sent to the establishment.
PUBLISHED_STATES = (
    SelfEvaluationState.RAPPORT_ENVOYE,
    SelfEvaluationState.CONTRADICTOIRE,
    SelfEvaluationState.DEFINITIVE,
)
FIELD_LABELS = {
    "value": "Réalisé",
    "not_applicable": "Non concerné",
    "not_applicable_reason": "Justification",
    "comment": "Commentaire",
}


@require_safe
def indicators(request, self_evaluation):
    """The contract's tree with its dots and « Pourcentage de remplissage » (« Mes questions » filter)."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    mine = request.GET.get("mes-questions") == "1"
    context = page_context(request, self_evaluation, assigned_to=request.user if mine else None)
    return render(request, "evaluation/indicators.html", context)


@dataclass
class Change:
    label: str
    old: str
    new: str


def _show(field, raw, value_type):
    if field == "value":
        return values.display(value_type, raw) or "—"
    if field == "not_applicable":
        return "Oui" if raw else "Non"
    return raw or "—"


def _history(value):
    entries = []
    for entry in value.history.select_related("changed_by").order_by("-version"):
        changes = [
            Change(
                FIELD_LABELS.get(field, field),
                _show(field, old, value.indicator.value_type),
                _show(field, new, value.indicator.value_type),
            )
            for field, (old, new) in entry.changes.items()
        ]
        entries.append((entry, changes))
    return entries


def _earlier_years(value):
    """The same question in the contract's earlier campaigns, newest first (carry-over, read-only)."""
    earlier = (
        IndicatorValue.objects.filter(
            self_evaluation__contract_id=value.self_evaluation.contract_id,
            self_evaluation__campaign__year__lt=value.self_evaluation.campaign.year,
            indicator__code=value.indicator.code,
            etablissement=value.etablissement,
        )
        .select_related("self_evaluation__campaign", "indicator")
        .order_by("-self_evaluation__campaign__year")
    )
    return [
        {
            "year": previous.self_evaluation.campaign.year,
            "target": values.display(previous.indicator.value_type, previous.target),
            "value": "Non concerné"
            if previous.not_applicable
            else values.display(previous.indicator.value_type, previous.value),
            "comment": previous.comment,
            "evaluator_comment": previous.evaluator_comment
            if previous.self_evaluation.state in PUBLISHED_STATES
            else "",
        }
        for previous in earlier
    ]


@require_http_methods(["GET", "POST"])
def question(request, self_evaluation, code):
    """A question under the tree: the answer form (or its reading), earlier years, history, assignment."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    value = get_question_value(self_evaluation, code, request.GET.get("et"))
    form = AnswerForm.for_value(
        value, data=request.POST if request.method == "POST" and "assign" not in request.POST else None
    )
    assignment_form = AssignmentForm(
        data=request.POST if request.method == "POST" and "assign" in request.POST else None,
        ej=self_evaluation.contract.ej,
        initial={
            "assignee": value.assigned_to
            and value.assigned_to.memberships.filter(ej=self_evaluation.contract.ej).first()
        },
    )
    status = 200
    if request.method == "POST" and "assign" in request.POST:
        if assignment_form.is_valid():
            scope = assignment_form.cleaned_data["scope"]
            targets = [value]
            if scope == "objectif" and value.indicator.parent_id:
                targets = list(
                    IndicatorValue.objects.filter(
                        self_evaluation=self_evaluation, indicator__parent_id=value.indicator.parent_id
                    ).select_related("indicator")
                )
            try:
                count = services.assign_questions(
                    targets,
                    assignee=assignment_form.cleaned_data["assignee"],
                    acting_user=request.user,
                    ip_address=client_ip(request),
                )
            except services.WriteRefused as refusal:
                messages.error(request, str(refusal))
            else:
                messages.success(
                    request, f"{count} question{'s' if count > 1 else ''} confiée{'s' if count > 1 else ''}."
                )
            return redirect(question_url(value))
    elif request.method == "POST":
        if form.is_valid():
            try:
                services.save_answer(
                    value,
                    acting_user=request.user,
                    expected_version=form.cleaned_data["version"],
                    answer=form.answer(),
                    ip_address=client_ip(request),
                )
            except services.VersionConflict as conflict:
                context = page_context(request, self_evaluation, current_pk=value.pk)
                return _conflict(request, context, value, conflict.current, form)
            except services.WriteRefused as refusal:
                _record_refusal(request, self_evaluation, value, str(refusal))
                messages.error(request, str(refusal))
                status = 409
            else:
                messages.success(request, "Réponse enregistrée.")
                return redirect(question_url(value))
    # The tree is built only to show the page: a successful save redirects without it.
    context = page_context(request, self_evaluation, current_pk=value.pk)
    is_signataire = role_in_ej(request.user, self_evaluation.contract.ej) == MembershipRole.SIGNATAIRE
    current = next((q for q in context["tree"].questions if q.value.pk == value.pk), None)
    context.update(
        {
            "value": value,
            "current_question": current,
            "form": form,
            "assignment_form": assignment_form if is_signataire and context["can"].write else None,
            "earlier_years": _earlier_years(value),
            "documents_block": question_block(request, value, can_write=context["can"].write),
            "history": _history(value),
            "next_question": context["tree"].next_to_fill(after=current),
            "display_target": values.display(value.indicator.value_type, value.target),
            "display_value": values.display(value.indicator.value_type, value.value),
        }
    )
    return render(request, "evaluation/question.html", context, status=status)


def _record_refusal(request, self_evaluation, value, reason):
    with transaction.atomic():
        record_event(
            EventType.WRITE_REFUSED,
            actor=request.user,
            ej=self_evaluation.contract.ej,
            target=value,
            data={"code": value.indicator.code, "reason": reason},
            ip_address=client_ip(request),
        )


def _conflict(request, context, value, current, form):
    """Two people edited the question: show both versions, overwrite nothing."""
    mine = form.answer()
    value_type = value.indicator.value_type
    context.update(
        {
            "value": value,
            "stored": current,
            "stored_value": "Non concerné" if current.not_applicable else values.display(value_type, current.value),
            "mine": mine,
            "mine_value": "Non concerné" if mine["not_applicable"] else values.display(value_type, mine["value"]),
            "mine_input": values.to_input(value_type, mine["value"]),
            "question_url": question_url(value),
        }
    )
    return render(request, "evaluation/conflict.html", context, status=409)


@require_safe
def help_targets(request):
    """How « objectif atteint » is decided, for each value type (the rule of evaluation.values)."""
    return render(request, "evaluation/help_targets.html")
