"""« Saisir les indicateurs »: the tree, and the question form under it."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from ecars.lib.http import request_context
from evaluation import services, values
from evaluation.display import (
    answer_shown,
    comment_label,
    field_change,
    question_label,
    question_url,
    value_type_shown,
)
from evaluation.earlier import earlier_years, previous_comment
from evaluation.forms import AnswerForm, AssignmentForm
from evaluation.views import observations
from evaluation.views.attachments import question_block
from evaluation.views.common import get_question_value, get_self_evaluation_for_user, page_context


@require_safe
def indicators(request, self_evaluation):
    """The contract's tree with its dots and « Pourcentage de remplissage » (« Mes questions » filter)."""
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation)
    only_my_questions = request.GET.get("mes-questions") == "1"
    context = page_context(request, self_evaluation, assigned_to=request.user if only_my_questions else None)
    return render(request, "evaluation/indicators.html", context)


# « Historique de la question » shows the latest changes; « Voir tout l'historique » the others.
HISTORY_SHOWN = 20


def _history(value, *, everything: bool) -> tuple[list, int | None]:
    """The question's changes, newest first, and how many there are in all when some are not shown (else None)."""
    year = value.self_evaluation.campaign.year
    entries = value.history.select_related("changed_by").order_by("-version")
    entries = list(entries if everything else entries[: HISTORY_SHOWN + 1])
    total = None
    if len(entries) > HISTORY_SHOWN and not everything:
        entries = entries[:HISTORY_SHOWN]
        total = value.history.count()
    shown = [
        (
            entry,
            [
                field_change(field, old, new, value.indicator.value_type, year=year)
                for field, (old, new) in entry.changes.items()
            ],
        )
        for entry in entries
    ]
    return shown, total


@require_http_methods(["GET", "POST"])
def question(request, self_evaluation, code):
    """A question under the tree: the answer form (or its reading), earlier years, history, assignment."""
    # A POST writes: the self-evaluation and the question are read locked, as the services lock them (in this
    # order), so that saving an answer reads neither again (ATOMIC_REQUESTS: the locks last the request).
    writing = request.method == "POST"
    self_evaluation = get_self_evaluation_for_user(request, self_evaluation, lock=writing)
    value = get_question_value(self_evaluation, code, request.GET.get("et"), lock=writing)
    answering = request.method == "POST" and not {"assign", "observation"} & set(request.POST)
    form = AnswerForm.for_value(value, data=request.POST if answering else None)
    assignment_form = None  # built when shown or posted: a save does not need it
    status = 200
    evaluation = None
    if request.method == "POST" and "observation" in request.POST:
        outcome = observations.save(request, value)
        if not isinstance(outcome, dict):
            return outcome
        evaluation, status = outcome, 400
    elif request.method == "POST" and "assign" in request.POST:
        assignment_form = _assignment_form(value, data=request.POST)
        if assignment_form.is_valid():
            try:
                count = services.assign_questions(
                    [value],
                    assignee=assignment_form.cleaned_data["assignee"],
                    scope=assignment_form.cleaned_data["scope"],
                    acting_user=request.user,
                    context=request_context(request),
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
                    context=request_context(request),
                    locked=True,
                )
            except services.VersionConflict as conflict:
                context = page_context(request, self_evaluation, current_pk=value.pk)
                return _conflict(request, context, value, conflict.current, form)
            except services.WriteRefused as refusal:
                # Audited by the service.
                messages.error(request, str(refusal))
                status = 409
            else:
                messages.success(request, "Réponse enregistrée.")
                return redirect(question_url(value))
    # The tree is built only to show the page: a successful save redirects without it.
    context = page_context(request, self_evaluation, current_pk=value.pk)
    can = context["can"]
    current = next((q for q in context["tree"].questions if q.value.pk == value.pk), None)
    value_type = value.indicator.value_type
    years = earlier_years(value)
    history, history_total = _history(value, everything=request.GET.get("historique") == "tout")
    context.update(
        {
            "value": value,
            "question_label": question_label(value.indicator, value.etablissement),
            "value_type_shown": value_type_shown(value.indicator),
            "comment_label": comment_label(self_evaluation.campaign.year),
            "current_question": current,
            "can_edit": can.edit(value),
            "form": form,
            # Confiding, like the documents, follows the question's rule: never a question others answer.
            "assignment_form": (assignment_form or _assignment_form(value))
            if can.assign and can.edit(value)
            else None,
            "earlier_years": years,
            "previous_comment": previous_comment(years),
            "documents_block": question_block(request, value, can=can),
            "history": history,
            "history_total": history_total,
            "next_question": context["tree"].next_to_fill(after=current),
            "display_target": values.display(value_type, value.target),
            "shown_value": answer_shown(value_type, value.value, not_applicable=value.not_applicable),
            "evaluation": evaluation or observations.evaluation_block(request, value),
        }
    )
    return render(request, "evaluation/question.html", context, status=status)


def _assignment_form(value, data=None):
    """« Confier » the question to a colleague, its current assignee chosen."""
    ej = value.self_evaluation.contract.ej
    return AssignmentForm(
        data=data,
        ej=ej,
        initial={"assignee": value.assigned_to and value.assigned_to.memberships.filter(ej=ej).first()},
    )


def _conflict(request, context, value, current, form):
    """Two people edited the question: show both versions, overwrite nothing."""
    my_answer = form.answer()
    value_type = value.indicator.value_type
    context.update(
        {
            "value": value,
            "question_label": question_label(value.indicator, value.etablissement),
            "comment_label": comment_label(value.self_evaluation.campaign.year),
            "stored": current,
            "stored_shown": answer_shown(value_type, current.value, not_applicable=current.not_applicable),
            "my_answer": my_answer,
            "my_answer_shown": answer_shown(
                value_type, my_answer["value"], not_applicable=my_answer["not_applicable"]
            ),
            "my_answer_input": values.to_input(value_type, my_answer["value"]),
            "question_url": question_url(value),
        }
    )
    return render(request, "evaluation/conflict.html", context, status=409)


@require_safe
def help_targets(request):
    """How « objectif atteint » is decided, for each value type (the rule of evaluation.values)."""
    return render(request, "evaluation/help_targets.html")
