"""« Évaluer »: each body's decisions, question by question (see evaluation/admin_pages/__init__.py).

- the overview `<id>/evaluer/`: the contract's tree, each question with the bodies that evaluate it, the
  establishment's answer in short and the decision of the agent's body (or « À décider »);
- the question `<id>/evaluer/<value id>/`: the establishment's answer, its documents, earlier years, the other
  bodies' decisions and the form of the agent's body (« Enregistrer la décision »); for a question « renseignée
  par » the agent's body, the answer form too (« Enregistrer la réponse »).

Every agent of the region who may view « Évaluations » reads the pages; the forms are those
`evaluation.perms.Abilities` grants (decide, fill), and evaluation.decisions decides again on the locked row. A
self-evaluation of another region is a 404, through the region-scoped queryset of EvaluationAdmin.
"""

from html import escape

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods

from documents.antivirus import scanning_enabled
from documents.perms import may_download
from ecars.admin import describe_errors
from ecars.lib.http import request_context
from evaluation import decisions, services, values
from evaluation.admin_pages import page_view
from evaluation.admin_pages.consolidate import ConsolidationForm, _self_evaluation
from evaluation.display import answer_shown, comment_label, question_label
from evaluation.earlier import earlier_years
from evaluation.enums import EvaluatingBody, Verdict
from evaluation.forms import AnswerForm
from evaluation.models import Attachment, IndicatorValue
from evaluation.perms import abilities_for
from evaluation.tree import build_tree


INFO = "evaluation_evaluation"


def urls(model_admin) -> list:
    def view(function, *decorators):
        return page_view(model_admin, function, *decorators)

    return [
        path("<path:object_id>/evaluer/", view(overview, require_GET), name=f"{INFO}_evaluate"),
        path(
            "<path:object_id>/evaluer/<int:value_id>/",
            view(question, require_http_methods(["GET", "POST"])),
            name=f"{INFO}_evaluate_question",
        ),
    ]


def bodies_label(node) -> str:
    """« ARS, Assurance Maladie »: the bodies the referential gives the question to."""
    return ", ".join(EvaluatingBody(body).label for body in node.evaluating_bodies) or "aucune instance"


class DecisionForm(ConsolidationForm):
    """A body's decision: the consolidation's fields and rule (motivation unless « Atteint »), the verdict as
    radio buttons."""

    verdict = forms.ChoiceField(
        label="Décision",
        choices=Verdict.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choisissez la décision.", "invalid_choice": "Choisissez une décision proposée."},
    )


class BodyAnswerForm(AnswerForm):
    """The answer of a body to a question it fills: the establishment's form, under the body's own title."""

    prefix = "reponse"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["comment"].help_text = "Le commentaire de votre instance sur la réponse, lu par l'établissement."


def _rows(self_evaluation, body):
    """The tree flattened for the overview, each question with the agent's body's decision."""
    tree = build_tree(self_evaluation, light=True)
    by_value = decisions.decisions_by_value(self_evaluation)
    rows = []
    for kind, item in tree.rows():
        if kind == "question":
            node = item.node
            mine = next((d for d in by_value.get(item.value.pk, []) if d.body == body), None)
            item.bodies = bodies_label(node)
            item.evaluated_by_me = body in node.evaluating_bodies if body else False
            item.filled_by_me = body is not None and node.filled_by == body
            item.mine = mine
            item.decisions = by_value.get(item.value.pk, [])
            item.answer = answer_shown(node.value_type, item.value.value, not_applicable=item.value.not_applicable)
        rows.append((kind, item))
    return tree, rows


YOUR_BODY_HEADER = '<th scope="col">Votre instance</th>'
FILLED_BY_ME = ' <span class="help">(renseignée par votre instance)</span>'


def _overview_html(rows, *, questions_url: str, with_body: bool) -> SafeString:
    """The overview's sections, one per objective, each with the table of its questions, built in Python: through
    the template, a 150-question contract's rows cost most of the page. The markup is the one the template would
    produce; every text is escaped with html.escape (quotes included), the same escaping as Django's autoescape."""
    parts = []
    for kind, item in rows:
        if kind == "close":
            parts.append("</section>")
            continue
        if kind != "open":
            continue
        node = item.node
        parts.append(
            f'<section class="module" aria-labelledby="b-{node.pk}"><h2 id="b-{node.pk}">{escape(node.code)} - '
            f"{escape(node.label)}</h2>"
        )
        if not item.questions:
            continue
        parts.append(
            f'<table><caption class="visually-hidden">Questions de {escape(node.code)}</caption><thead><tr>'
            '<th scope="col">Question</th><th scope="col">Évaluée par</th><th scope="col">Réalisé</th>'
            '<th scope="col">Décisions</th>'
            f"{YOUR_BODY_HEADER if with_body else ''}</tr></thead><tbody>"
        )
        for question in item.questions:
            filled_by_me = FILLED_BY_ME if question.filled_by_me else ""
            shown = "<br>".join(
                f"{escape(decision.get_body_display())} : {escape(decision.get_verdict_display())}"
                for decision in question.decisions
            )
            parts.append(
                f'<tr><th scope="row"><a href="{escape(questions_url)}{question.value.pk}/">'
                f"{escape(question.label)}</a>{filled_by_me}</th><td>{escape(question.bodies)}</td>"
                f"<td>{escape(question.answer or '—')}</td><td>{shown or '—'}</td>"
            )
            if with_body:
                if question.mine:
                    mine = escape(question.mine.get_verdict_display())
                elif question.evaluated_by_me:
                    mine = "<strong>À décider</strong>"
                else:
                    mine = "Non évaluée par votre instance"
                parts.append(f"<td>{mine}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
    return SafeString("".join(parts))


def overview(model_admin, request, object_id):
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    can = abilities_for(self_evaluation, request.user)
    tree, rows = _rows(self_evaluation, can.body)
    mine = [q for q in tree.questions if q.evaluated_by_me]
    context = {
        **_context(model_admin, request, self_evaluation, can),
        "title": f"Évaluer — {self_evaluation.contract.name}",
        "sections": _overview_html(
            rows,
            questions_url=reverse(f"admin:{INFO}_evaluate", args=[self_evaluation.pk]),
            with_body=bool(can.body),
        ),
        "to_decide": len(mine),
        "decided": sum(1 for q in mine if q.mine),
        "next": _next_to_decide(tree.questions, None),
    }
    return TemplateResponse(request, "admin/evaluation/evaluation/evaluate.html", context)


def _next_to_decide(questions, after):
    """The next question the agent's body still has to decide after `after` (or the first), wrapping around."""
    todo = [q for q in questions if q.evaluated_by_me and q.mine is None]
    if not todo:
        return None
    if after is not None:
        position = next((i for i, q in enumerate(questions) if q.value.pk == after), -1)
        for q in questions[position + 1 :] + questions[: position + 1]:
            if q in todo:
                return q
    return todo[0]


def _context(model_admin, request, self_evaluation, can) -> dict:
    request.current_app = model_admin.admin_site.name
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "ej": self_evaluation.contract.ej,
        "campaign": self_evaluation.campaign,
        "can": can,
        "body_label": EvaluatingBody(can.body).label if can.body else "",
        "comment_label": comment_label(self_evaluation.campaign.year),
    }


def _value(self_evaluation, value_id) -> IndicatorValue:
    queryset = IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related(
        "indicator", "etablissement", "updated_by"
    )
    queryset = queryset.prefetch_related(
        Prefetch(
            "attachments",
            queryset=Attachment.objects.filter(withdrawn_at__isnull=True)
            .select_related("document", "attached_by")
            .order_by("attached_at", "pk"),
            to_attr="listed",
        )
    )
    value = get_object_or_404(queryset, pk=value_id)
    value.self_evaluation = self_evaluation
    return value


def question(model_admin, request, object_id, value_id):
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    value = _value(self_evaluation, value_id)
    can = abilities_for(self_evaluation, request.user)
    decision_form = answer_form = None
    status = 200
    if request.method == "POST":
        if "reponse-version" in request.POST:
            answer_form = BodyAnswerForm(request.POST, indicator=value.indicator, year=self_evaluation.campaign.year)
            response = _save_answer(request, self_evaluation, value, answer_form)
        else:
            decision_form = DecisionForm(request.POST)
            response = _save_decision(request, self_evaluation, value, decision_form)
        if response is not None:
            return response
        status = 400
    return _render_question(model_admin, request, self_evaluation, value, can, decision_form, answer_form, status)


def _question_url(self_evaluation, value) -> str:
    return reverse(f"admin:{INFO}_evaluate_question", args=[self_evaluation.pk, value.pk])


def _conflict_message(value, current) -> str:
    if current is None:
        return f"{value.indicator.code} : la décision a changé entre-temps. Vos changements n'ont pas été enregistrés."
    who = current.decided_by.get_full_name() or current.decided_by.email
    return (
        f"{value.indicator.code} : {who} a enregistré entre-temps la décision « {current.get_verdict_display()} » "
        "pour votre instance. Vos changements n'ont pas été enregistrés : relisez-la ci-dessous, puis enregistrez "
        "de nouveau si besoin."
    )


def _save_decision(request, self_evaluation, value, form):
    """A redirect when the decision is recorded (or refused for good), None to show the form again."""
    if not form.is_valid():
        return None
    try:
        decisions.record_decision(
            value,
            acting_user=request.user,
            verdict=form.cleaned_data["verdict"],
            motivation=form.cleaned_data["motivation"],
            private_note=form.cleaned_data["private_note"],
            expected_version=form.cleaned_data["version"],
            context=request_context(request),
        )
    except decisions.DecisionRefused as refusal:
        if refusal.field in form.fields:
            form.add_error(refusal.field, str(refusal))
            return None
        messages.error(request, str(refusal))
        return redirect(_question_url(self_evaluation, value))
    except services.VersionConflict as conflict:
        # The agent's text is kept, on the version now stored: saving again replaces it knowingly.
        _see_version(form, conflict.current.version if conflict.current else 0)
        form.add_error(None, _conflict_message(value, conflict.current))
        return None
    messages.success(request, f"{value.indicator.code} : décision enregistrée.")
    tree, _ = _rows(self_evaluation, abilities_for(self_evaluation, request.user).body)
    following = _next_to_decide(tree.questions, value.pk)
    if following is not None:
        return redirect(_question_url(self_evaluation, following.value))
    messages.info(request, "Toutes les questions de votre instance sont décidées.")
    return redirect(reverse(f"admin:{INFO}_evaluate", args=[self_evaluation.pk]))


def _see_version(form, version: int) -> None:
    """Re-render `form` (bound) with the version stored now in its hidden field, the rest as entered."""
    data = form.data.copy()
    data[form.add_prefix("version")] = str(version)
    form.data = data


def _save_answer(request, self_evaluation, value, form):
    if not form.is_valid():
        return None
    try:
        decisions.fill_for_body(
            value,
            acting_user=request.user,
            expected_version=form.cleaned_data["version"],
            answer=form.answer(),
            context=request_context(request),
        )
    except decisions.DecisionRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(_question_url(self_evaluation, value))
    except services.VersionConflict as conflict:
        _see_version(form, conflict.current.version)
        who = conflict.current.updated_by
        by = f" par {who.get_full_name() or who.email}" if who else ""
        form.add_error(
            None,
            f"{value.indicator.code} : la réponse a été modifiée entre-temps{by}. Vos changements n'ont pas été "
            "enregistrés : relisez la réponse enregistrée ci-dessus, puis enregistrez de nouveau si besoin.",
        )
        return None
    messages.success(request, f"{value.indicator.code} : réponse enregistrée.")
    return redirect(_question_url(self_evaluation, value))


def _render_question(model_admin, request, self_evaluation, value, can, decision_form, answer_form, status):
    node = value.indicator
    by_body = {d.body: d for d in decisions.decisions_on(value)}
    mine = by_body.get(can.body) if can.body else None
    may_decide = can.decide(value)
    if may_decide and decision_form is None:
        initial = {"version": mine.version if mine else 0}
        if mine:
            initial.update(verdict=mine.verdict, motivation=mine.motivation, private_note=mine.private_note)
        decision_form = DecisionForm(initial=initial)
    may_fill = can.fill(value)
    if may_fill and answer_form is None:
        answer_form = BodyAnswerForm(
            initial={
                "value": values.to_input(node.value_type, value.value),
                "not_applicable": value.not_applicable,
                "not_applicable_reason": value.not_applicable_reason,
                "comment": value.comment,
                "version": value.version,
            },
            indicator=node,
            year=self_evaluation.campaign.year,
        )
    for form in (decision_form, answer_form):
        if form is not None:
            describe_errors(form)
    scanning = scanning_enabled()
    documents = [(a, may_download(a.document)) for a in value.listed]
    if not may_decide:
        why = _why_read_only(self_evaluation, node, can)
    else:
        why = ""
    context = {
        **_context(model_admin, request, self_evaluation, can),
        "title": f"Évaluer — {node.code}",
        "value": value,
        "node": node,
        "label": question_label(node, value.etablissement),
        "bodies": bodies_label(node),
        "answer": answer_shown(node.value_type, value.value, not_applicable=value.not_applicable),
        "target": values.display(node.value_type, value.target or node.default_target),
        "documents": documents,
        "scanning": scanning,
        "earlier": earlier_years(value),
        "decisions": [by_body[body] for body in EvaluatingBody.values if body in by_body],
        "mine": mine,
        "decision_form": decision_form if may_decide else None,
        "answer_form": answer_form if may_fill else None,
        "read_only_reason": why,
    }
    return TemplateResponse(request, "admin/evaluation/evaluation/evaluate_question.html", context, status=status)


def _why_read_only(self_evaluation, node, can) -> str:
    if can.body is None:
        return "Consultation : seuls les agents de l'ARS, de l'Assurance Maladie et de l'OMEDIT décident."
    if can.body not in node.evaluating_bodies:
        return f"Consultation : cette question n'est pas évaluée par l'instance {EvaluatingBody(can.body).label}."
    return (
        f"Consultation : aucune décision ne s'enregistre à l'état « {self_evaluation.get_state_display()} » "
        "(les décisions se prennent une fois la saisie close, jusqu'à l'envoi du rapport)."
    )
