"""« Période contradictoire »: the establishment's observations of each round and the ARS's answers (see
evaluation/admin_pages/__init__.py).

Every agent of the region who may view « Évaluations » reads the page; the answer forms and « Ouvrir une nouvelle
période contradictoire » are offered to those `evaluation.contradictory` lets answer, and its services decide
again on the locked row. A self-evaluation of another region is a 404 (EvaluationAdmin's queryset).
"""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from documents.antivirus import scanning_enabled
from documents.perms import may_download
from ecars.admin import describe_errors
from ecars.lib.http import request_context
from evaluation import contradictory, services
from evaluation.admin_pages import page_view
from evaluation.admin_pages.consolidate import DATE_WIDGET, _self_evaluation
from evaluation.display import question_label
from evaluation.enums import ObservationStatus, Verdict
from evaluation.models import ContradictoryRound, Observation


INFO = "evaluation_evaluation"
MAINTAINED = ""


def urls(model_admin) -> list:
    def view(function, *decorators):
        return page_view(model_admin, function, *decorators)

    return [
        path(
            "<path:object_id>/contradictoire/",
            view(contradictory_page, require_http_methods(["GET"])),
            name=f"{INFO}_contradictory",
        ),
        path(
            "<path:object_id>/contradictoire/<int:observation_id>/reponse/",
            view(answer, require_POST),
            name=f"{INFO}_answer_observation",
        ),
        path(
            "<path:object_id>/contradictoire/nouvelle-periode/",
            view(next_round, require_POST),
            name=f"{INFO}_next_round",
        ),
    ]


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Réponse à l'observation",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text="Adressée à l'établissement.",
        error_messages={"required": contradictory.ANSWER_REQUIRED},
    )
    revised_verdict = forms.ChoiceField(
        label="Décision",
        choices=[(MAINTAINED, "Décision maintenue"), *Verdict.choices],
        required=False,
    )
    motivation = forms.CharField(
        label="Motivation (visible par l'établissement)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        help_text="Pour une décision révisée ; obligatoire sauf pour « Atteint ».",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean(self):
        cleaned_data = super().clean()
        verdict = cleaned_data.get("revised_verdict")
        if verdict and verdict != Verdict.ATTEINT and not cleaned_data.get("motivation", "").strip():
            self.add_error("motivation", contradictory.MOTIVATION_REQUIRED)
        return cleaned_data


class NextRoundForm(forms.Form):
    deadline = forms.DateField(
        label="Date limite des observations",
        widget=DATE_WIDGET,
        error_messages={
            "required": "Indiquez la date limite des observations.",
            "invalid": "Saisissez une date valide.",
        },
    )


def _page_url(self_evaluation) -> str:
    return reverse(f"admin:{INFO}_contradictory", args=[self_evaluation.pk])


def _render(model_admin, request, self_evaluation, *, bound=None, round_form=None, status=200):
    rounds = list(
        ContradictoryRound.objects.filter(self_evaluation=self_evaluation)
        .select_related("opened_by", "observations_sent_by")
        .order_by("-number")
    )
    observations = list(
        Observation.objects.filter(round__self_evaluation=self_evaluation, status=ObservationStatus.ENVOYEE)
        .select_related("round", "value__indicator", "value__etablissement", "value__consolidation", "answered_by")
        .prefetch_related("documents__document")
        .order_by("-round__number", "value__indicator__position", "pk")
    )
    by_round = {contradictory_round.pk: [] for contradictory_round in rounds}
    for observation in observations:
        observation.label = question_label(observation.value.indicator, observation.value.etablissement)
        observation.files = [(item.document, may_download(item.document)) for item in observation.documents.all()]
        observation.form = None
        if contradictory.answer_refusal(self_evaluation, observation, request.user) is None:
            if bound is not None and bound.prefix == f"o{observation.pk}":
                observation.form = bound
            else:
                observation.form = AnswerForm(prefix=f"o{observation.pk}", initial={"version": observation.version})
            describe_errors(observation.form)
        by_round[observation.round_id].append(observation)
    for contradictory_round in rounds:
        contradictory_round.sent = by_round[contradictory_round.pk]
    may_open = contradictory.next_round_refusal(self_evaluation, request.user) is None
    if may_open and round_form is None:
        round_form = NextRoundForm()
    if round_form is not None:
        describe_errors(round_form)
    request.current_app = model_admin.admin_site.name
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Période contradictoire — {self_evaluation.contract.name}",
        "opts": model_admin.model._meta,
        "self_evaluation": self_evaluation,
        "contract": self_evaluation.contract,
        "ej": self_evaluation.contract.ej,
        "campaign": self_evaluation.campaign,
        "rounds": rounds,
        "round_form": round_form if may_open else None,
        "scanning": scanning_enabled(),
    }
    return TemplateResponse(request, "admin/evaluation/evaluation/contradictory.html", context, status=status)


def contradictory_page(model_admin, request, object_id):
    return _render(model_admin, request, _self_evaluation(model_admin, request, object_id))


def answer(model_admin, request, object_id, observation_id):
    """« Enregistrer la réponse »."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    observation = get_object_or_404(
        Observation.objects.select_related("round", "value__indicator"),
        round__self_evaluation=self_evaluation,
        pk=observation_id,
    )
    form = AnswerForm(request.POST, prefix=f"o{observation.pk}")
    if form.is_valid():
        try:
            contradictory.answer_observation(
                observation,
                acting_user=request.user,
                answer=form.cleaned_data["answer"],
                revised_verdict=form.cleaned_data["revised_verdict"] or None,
                motivation=form.cleaned_data["motivation"],
                expected_version=form.cleaned_data["version"],
                context=request_context(request),
            )
        except contradictory.ObservationRefused as refusal:
            if refusal.field in form.fields:
                form.add_error(refusal.field, str(refusal))
            else:
                messages.error(request, str(refusal))
                return redirect(_page_url(self_evaluation))
        except services.VersionConflict:
            messages.error(
                request,
                f"{observation.value.indicator.code} : l'observation a changé entre-temps. "
                "Votre réponse n'a pas été enregistrée : relisez-la, puis répondez de nouveau.",
            )
            return redirect(_page_url(self_evaluation))
        else:
            messages.success(request, f"{observation.value.indicator.code} : réponse enregistrée.")
            return redirect(_page_url(self_evaluation) + f"#o-{observation.pk}")
    return _render(model_admin, request, self_evaluation, bound=form, status=400)


def next_round(model_admin, request, object_id):
    """« Ouvrir une nouvelle période contradictoire »."""
    self_evaluation = _self_evaluation(model_admin, request, object_id)
    form = NextRoundForm(request.POST)
    if form.is_valid():
        try:
            new_round = contradictory.open_next_round(
                self_evaluation,
                acting_user=request.user,
                deadline=form.cleaned_data["deadline"],
                context=request_context(request),
            )
        except contradictory.ObservationRefused as refusal:
            if refusal.field != "deadline":
                messages.error(request, str(refusal))
                return redirect(_page_url(self_evaluation))
            form.add_error("deadline", str(refusal))
        else:
            messages.success(
                request,
                f"Période contradictoire n° {new_round.number} ouverte jusqu'au {new_round.deadline:%d/%m/%Y} ; "
                "le rapport mis à jour a été envoyé aux signataires.",
            )
            return redirect(_page_url(self_evaluation))
    return _render(model_admin, request, self_evaluation, round_form=form, status=400)
