"""« Consolidation »: the ARS's consolidated decisions, the intéressement and the reports of one contract
(see evaluation/admin_pages/__init__.py).

Every agent of the region who may view « Évaluations » reads the page (each body's decisions, private notes
included: they are the agencies' own); the forms and the buttons are those `evaluation.perms.Abilities`
grants (consolidating, reporting), and the services decide again on the locked row. A self-evaluation of
another region is a 404, through the region-scoped queryset of EvaluationAdmin.
"""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ecars.admin import describe_errors
from ecars.lib.http import request_context
from evaluation import consolidation, reports, services, values
from evaluation.admin_pages import page_view
from evaluation.enums import SelfEvaluationState, Verdict
from evaluation.models import IndicatorValue, Report
from evaluation.perms import abilities_for
from evaluation.views.reports import serve_report


INFO = "evaluation_evaluation"
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def urls(model_admin) -> list:
    def view(function, *decorators):
        return page_view(model_admin, function, *decorators)

    return [
        path(
            "<path:object_id>/consolidation/",
            view(consolidate_page, require_http_methods(["GET", "POST"])),
            name=f"{INFO}_consolidate",
        ),
        path(
            "<path:object_id>/consolidation/interessement/",
            view(incentive, require_POST),
            name=f"{INFO}_incentive",
        ),
        path(
            "<path:object_id>/consolidation/rapport/generer/",
            view(generate_report, require_POST),
            name=f"{INFO}_generate_report",
        ),
        path(
            "<path:object_id>/consolidation/rapport/envoyer/",
            view(send_report, require_POST),
            name=f"{INFO}_send_report",
        ),
        path(
            "<path:object_id>/consolidation/rapport/envoyer-definitif/",
            view(send_final_report, require_POST),
            name=f"{INFO}_send_final_report",
        ),
        path(
            "<path:object_id>/consolidation/rapports/<int:report_id>/",
            view(download_report, require_GET),
            name=f"{INFO}_report_download",
        ),
    ]


# --- Forms -------------------------------------------------------------------------------------------


class ConsolidationForm(forms.Form):
    verdict = forms.ChoiceField(
        label="Décision consolidée",
        choices=[("", "---------"), *Verdict.choices],
        error_messages={"required": "Choisissez la décision consolidée."},
    )
    motivation = forms.CharField(
        label="Motivation (visible par l'établissement)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Obligatoire, sauf pour « Atteint ».",
    )
    private_note = forms.CharField(
        label="Note interne (jamais visible par l'établissement)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def clean(self):
        cleaned_data = super().clean()
        verdict = cleaned_data.get("verdict")
        if verdict and verdict != Verdict.ATTEINT and not cleaned_data.get("motivation", "").strip():
            self.add_error("motivation", consolidation.MOTIVATION_REQUIRED)
        return cleaned_data


class IncentiveForm(forms.Form):
    amount = forms.CharField(
        label="Montant de l'intéressement (€)",
        required=False,
        help_text="Saisi par l'ARS, jamais calculé ; par exemple 12345,50. Laisser vide si non renseigné.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def clean_amount(self) -> Decimal | None:
        raw = self.cleaned_data["amount"].strip()
        if not raw:
            return None
        number = values.parse_decimal(
            raw, minimum=-consolidation.MAX_INCENTIVE, maximum=consolidation.MAX_INCENTIVE, what="le montant"
        )
        try:
            return consolidation.check_amount(number)
        except consolidation.ConsolidationRefused as refusal:
            raise ValidationError(str(refusal)) from refusal


class SendReportForm(forms.Form):
    deadline = forms.DateField(
        label="Date limite des observations",
        required=False,
        widget=DATE_WIDGET,
        error_messages={"invalid": "Saisissez une date valide."},
        help_text="Fin de la première période contradictoire ; par défaut, celle de la campagne.",
    )


# --- Views -------------------------------------------------------------------------------------------


def _self_evaluation(model_admin, request, object_id):
    """The self-evaluation of the page, within the agent's region (404 otherwise), with what the page shows."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if not str(object_id).isdigit():
        raise Http404("Aucun objet ne correspond à cette adresse.")
    queryset = model_admin.get_queryset(request).select_related(
        "campaign", "contract__ej__region", "contract__contract_type"
    )
    return get_object_or_404(queryset, pk=object_id)


def _page_url(self_evaluation) -> str:
    return reverse(f"admin:{INFO}_consolidate", args=[self_evaluation.pk])


def _initial(row) -> dict:
    if row.consolidation is not None:
        current = row.consolidation
        return {
            "verdict": current.verdict,
            "motivation": current.motivation,
            "private_note": current.private_note,
            "version": current.version,
        }
    return {
        "verdict": row.prefill or "",
        "motivation": row.prefill_motivation,
        "private_note": "",
        "version": 0,
    }


def _render(
    model_admin,
    request,
    self_evaluation,
    *,
    bound: ConsolidationForm | None = None,
    incentive_form: IncentiveForm | None = None,
    send_form: SendReportForm | None = None,
    status: int = 200,
):
    can = abilities_for(self_evaluation, request.user)
    rows = consolidation.consolidation_rows(self_evaluation)
    versions = list(self_evaluation.reports.select_related("generated_by", "sent_by", "read_by").order_by("-version"))
    sent = any(report.sent_at for report in versions)
    may_consolidate = can.consolidating and not sent
    for row in rows:
        row.form = None
        if may_consolidate:
            if bound is not None and bound.prefix == f"q{row.value.pk}":
                row.form = bound
            else:
                row.form = ConsolidationForm(prefix=f"q{row.value.pk}", initial=_initial(row))
            describe_errors(row.form)
    missing = sum(1 for row in rows if row.consolidation is None)
    if may_consolidate and incentive_form is None:
        amount = self_evaluation.incentive_amount
        incentive_form = IncentiveForm(initial={"amount": "" if amount is None else f"{amount}".replace(".", ",")})
    state = self_evaluation.state
    may_send = can.reporting and state == SelfEvaluationState.EN_EVALUATION and missing == 0
    if may_send and send_form is None:
        send_form = SendReportForm(initial={"deadline": self_evaluation.campaign.contradictory_deadline})
    for form in (incentive_form, send_form):
        if form is not None:
            describe_errors(form)
    final_refusal = None
    if can.reporting and state == SelfEvaluationState.CONTRADICTOIRE:
        final_refusal = reports.final_report_refusal(self_evaluation)
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Consolidation — {self_evaluation.contract.name}",
        "opts": opts,
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "ej": self_evaluation.contract.ej,
        "campaign": self_evaluation.campaign,
        "can": can,
        "rows": rows,
        "total": len(rows),
        "consolidated": len(rows) - missing,
        "missing": missing,
        "report_sent": sent,
        "may_consolidate": may_consolidate,
        "amount": reports.format_amount(self_evaluation.incentive_amount),
        "incentive_form": incentive_form if may_consolidate else None,
        "versions": versions,
        "may_generate": can.reporting and missing == 0,
        "send_form": send_form if may_send else None,
        "may_send_final": can.reporting and state == SelfEvaluationState.CONTRADICTOIRE and final_refusal is None,
        "final_refusal": final_refusal,
        "comment_label": f"Commentaire évalué {self_evaluation.campaign.year}",
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/evaluation/evaluation/consolidate.html", context, status=status)


def consolidate_page(model_admin, request, object_id):
    """The page; a POST records the consolidated decision of one question (its form names it)."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    if request.method != "POST":
        return _render(model_admin, request, self_evaluation)
    value_pk = request.POST.get("value", "")
    value = IndicatorValue.objects.filter(self_evaluation=self_evaluation, pk=value_pk if value_pk.isdigit() else 0)
    value = value.select_related("indicator", "etablissement").first()
    if value is None:
        raise Http404("Aucune question ne correspond à cette adresse.")
    form = ConsolidationForm(request.POST, prefix=f"q{value.pk}")
    if form.is_valid():
        try:
            consolidation.consolidate(
                value,
                acting_user=request.user,
                verdict=form.cleaned_data["verdict"],
                motivation=form.cleaned_data["motivation"],
                private_note=form.cleaned_data["private_note"],
                expected_version=form.cleaned_data["version"],
                context=request_context(request),
            )
        except consolidation.ConsolidationRefused as refusal:
            if refusal.field in form.fields:
                form.add_error(refusal.field, str(refusal))
            else:
                messages.error(request, str(refusal))
                return redirect(_page_url(self_evaluation))
        except services.VersionConflict as conflict:
            current = conflict.current
            who = (current.decided_by.get_full_name() or current.decided_by.email) if current else ""
            messages.error(
                request,
                f"{value.indicator.code} : la décision consolidée a été enregistrée entre-temps"
                + (f" par {who}" if who else "")
                + ". Vos changements n'ont pas été enregistrés : relisez-la, puis enregistrez de nouveau.",
            )
            return redirect(_page_url(self_evaluation) + f"#q-{value.pk}")
        else:
            messages.success(request, f"{value.indicator.code} : décision consolidée enregistrée.")
            return redirect(_page_url(self_evaluation) + f"#q-{value.pk}")
    return _render(model_admin, request, self_evaluation, bound=form, status=400)


def incentive(model_admin, request, object_id):
    """« Enregistrer le montant »."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    form = IncentiveForm(request.POST)
    if form.is_valid():
        try:
            consolidation.set_incentive_amount(
                self_evaluation,
                acting_user=request.user,
                amount=form.cleaned_data["amount"],
                context=request_context(request),
            )
        except consolidation.ConsolidationRefused as refusal:
            if refusal.field != "amount":
                messages.error(request, str(refusal))
                return redirect(_page_url(self_evaluation))
            form.add_error("amount", str(refusal))
        else:
            amount = reports.format_amount(form.cleaned_data["amount"])
            messages.success(request, f"Montant de l'intéressement enregistré : {amount}.")
            return redirect(_page_url(self_evaluation) + "#interessement")
    return _render(model_admin, request, self_evaluation, incentive_form=form, status=400)


def generate_report(model_admin, request, object_id):
    """« Générer le rapport »: a new unsent version, to check it."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    try:
        report = reports.generate_report(self_evaluation, acting_user=request.user, context=request_context(request))
    except reports.ReportRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            f"Rapport généré : version {report.version}, non envoyée. Téléchargez-la pour la vérifier avant l'envoi.",
        )
    return redirect(_page_url(self_evaluation) + "#rapports")


def send_report(model_admin, request, object_id):
    """« Envoyer le rapport »: the report to the signataires, the période contradictoire opened."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    form = SendReportForm(request.POST)
    if form.is_valid():
        try:
            report = reports.send_report(
                self_evaluation,
                acting_user=request.user,
                deadline=form.cleaned_data["deadline"],
                context=request_context(request),
            )
        except reports.ReportRefused as refusal:
            if refusal.field != "deadline":
                messages.error(request, str(refusal))
                return redirect(_page_url(self_evaluation) + "#rapports")
            form.add_error("deadline", str(refusal))
        else:
            self_evaluation.refresh_from_db()
            messages.success(
                request,
                f"Rapport envoyé (version {report.version}) aux signataires de l'établissement. La période "
                f"contradictoire est ouverte jusqu'au {self_evaluation.contradictory_deadline:%d/%m/%Y}.",
            )
            return redirect(_page_url(self_evaluation) + "#rapports")
    return _render(model_admin, request, self_evaluation, send_form=form, status=400)


def send_final_report(model_admin, request, object_id):
    """« Envoyer le rapport définitif »."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    try:
        report = reports.send_final_report(self_evaluation, acting_user=request.user, context=request_context(request))
    except reports.ReportRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            f"Rapport définitif envoyé (version {report.version}) aux signataires de l'établissement : "
            "l'évaluation est définitive.",
        )
    return redirect(_page_url(self_evaluation) + "#rapports")


def download_report(model_admin, request, object_id, report_id):
    """A version of the report, sent or not, for the agents of the region (never a read receipt)."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    report = get_object_or_404(Report, self_evaluation_id=self_evaluation.pk, pk=report_id)
    report.self_evaluation = self_evaluation
    return serve_report(report)
