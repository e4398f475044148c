"""« Tableau de bord » of a campaign: `admin/evaluation/campaign/<id>/tableau-de-bord/` (CampaignAdmin.get_urls),
reached from the campaign's page (« Tableau de bord » among its tools) and from the list of campaigns.

The figures are those of evaluation.dashboard, for the agent's region (an ARS agent: always their own; a national
administrator: one of the campaign's regions, or all of them), filtered by department and by state through a GET
form. Each chart is a custom element of the State design system's chart library (static/vendor/dsfr-chart/, see
its README), followed by (on a wide page: beside) a data table holding the same figures.

Who: the `dashboard` verb on evaluation.campaign (ecars/privileges.py), 403 without it (Assurance Maladie and OMEDIT
evaluators); a campaign outside the agent's region is a 404, through CampaignAdmin's region-scoped queryset.
"""

import base64
import hashlib
import json

from csp.decorators import csp_update
from django import forms
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.text import capfirst
from django.views.decorators.http import require_GET

from ecars.admin import admin_page
from evaluation import dashboard


INFO = "evaluation_campaign"

# The chart library's tooltip (shown when a bar or a point is hovered) is built with innerHTML, each series' dot
# with an inline `style="background-color:#RRGGBB;"` attribute. The site's policy refuses inline styles; this page
# allows exactly those attribute values, the colours of the library's palettes (2.0.4, light and dark themes),
# through their hashes ('unsafe-hashes' lets a hash match an attribute; script-src and style-src are unchanged).
CHART_COLOURS = (
    "#5C68E5",
    "#82B5F2",
    "#29598F",
    "#31A7AE",
    "#81EEF5",
    "#B478F1",
    "#CFB1F5",
    "#CECECE",
    "#699BD6",
    "#4878B1",
    "#00828A",
    "#51C1C8",
    "#BC8AF2",
    "#A4A4A4",
    "#B1B1B1",
    "#808080",
)


def _style_hash(style: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


TOOLTIP_STYLES_CSP = {
    "style-src-attr": ["'unsafe-hashes'", *(_style_hash(f"background-color:{colour};") for colour in CHART_COLOURS)]
}


def urls(model_admin) -> list:
    return [
        path(
            "<path:object_id>/tableau-de-bord/",
            admin_page(model_admin, campaign_dashboard, require_GET, csp_update(TOOLTIP_STYLES_CSP), verb="dashboard"),
            name=f"{INFO}_dashboard",
        )
    ]


ALL = ""
NOT_IN_THE_LIST = {"invalid_choice": "Choisissez une valeur de la liste : « %(value)s » n'en est pas une."}


class DashboardFilters(forms.Form):
    """The page's filters (GET). An unknown value is reported on its field and that filter left out."""

    region = forms.ChoiceField(label="Région", required=False, error_messages=NOT_IN_THE_LIST)
    departement = forms.ChoiceField(label="Département", required=False, error_messages=NOT_IN_THE_LIST)
    etat = forms.ChoiceField(label="Etat", required=False, error_messages=NOT_IN_THE_LIST)

    def __init__(self, data, *, regions, departments):
        super().__init__(data)
        if regions is None:
            del self.fields["region"]
        else:
            self.fields["region"].choices = [(ALL, "Toutes les régions de la campagne")] + [
                (str(region.pk), region.name) for region in regions
            ]
        self.fields["departement"].choices = [(ALL, "Tous les départements")] + [(code, code) for code in departments]
        self.fields["etat"].choices = [(ALL, "Tous les états")] + dashboard.STATE_CHOICES

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}_erreur"

    def value(self, name: str) -> str:
        """The filter's value if valid, else « » (all)."""
        if not self.is_bound or (not self.is_valid() and name in self.errors):
            return ALL
        return self.cleaned_data.get(name) or ALL


def _campaign(model_admin, request, object_id):
    if not str(object_id).isdigit():
        raise Http404("Aucun objet ne correspond à cette adresse.")
    return get_object_or_404(model_admin.get_queryset(request).select_related("contract_type"), pk=object_id)


def _chart_json(values) -> str:
    return json.dumps(values, ensure_ascii=False)


def _charts(figures: dashboard.Dashboard) -> dict:
    """The attributes of each chart's custom element: JSON lists, as the library reads them."""
    closures = figures.closures
    return {
        "states": {
            "x": _chart_json([[row.label for row in figures.states]]),
            "y": _chart_json([[row.count for row in figures.states]]),
            "name": _chart_json(["Contrats"]),
        },
        "fill": {
            "x": _chart_json([[row.label for row in figures.fill]]),
            "y": _chart_json([[row.count for row in figures.fill]]),
            "name": _chart_json(["Auto-évaluations non clôturées"]),
        },
        "closures": {
            "x": _chart_json([f"{day.day:%d/%m}" + (" (date limite)" if day.is_deadline else "") for day in closures]),
            "y_bar": _chart_json([day.count for day in closures]),
            "y_line": _chart_json([day.cumulative for day in closures]),
        },
        "reminders": {
            "x": _chart_json([[capfirst(row.label) for row in figures.reminders]]),
            "y": _chart_json([[row.count for row in figures.reminders]]),
            "name": _chart_json(["Courriels envoyés"]),
        },
        "evaluation_states": {
            "x": _chart_json([[row.label for row in figures.evaluation_states]]),
            "y": _chart_json([[row.count for row in figures.evaluation_states]]),
            "name": _chart_json(["Contrats"]),
        },
        "decisions": {
            "x": _chart_json([[body.label for body in figures.bodies] + ["Consolidation (ARS)"]]),
            "y": _chart_json(
                [
                    [body.decided for body in figures.bodies] + [figures.consolidated],
                    [body.remaining for body in figures.bodies] + [figures.not_consolidated],
                ]
            ),
            "name": _chart_json(["Décidées", "Restant à décider"]),
        },
    }


def campaign_dashboard(model_admin, request, object_id):
    """The figures of the campaign for the agent's region (a national administrator: the region chosen, or every
    region of the campaign), with the filters of the GET form."""
    campaign = _campaign(model_admin, request, object_id)
    user = request.user
    campaign_regions = sorted(campaign.regions.all(), key=lambda region: region.name)
    if user.is_national_admin:
        offered = campaign_regions
        chosen = next((region for region in offered if str(region.pk) == request.GET.get("region")), None)
        regions = [chosen] if chosen else offered
    else:
        offered = None
        regions = [region for region in campaign_regions if region.pk == user.region_id]
    departments = dashboard.departments(region.code for region in regions)
    form = DashboardFilters(request.GET or None, regions=offered, departments=departments)
    scope = dashboard.Scope(
        campaign=campaign,
        region_ids=tuple(region.pk for region in regions),
        department=form.value("departement"),
        state=form.value("etat"),
    )
    figures = dashboard.build(scope)
    request.current_app = model_admin.admin_site.name
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Tableau de bord — {campaign.name}",
        "campaign": campaign,
        "regions_label": ", ".join(region.name for region in regions),
        "state_label": dict(dashboard.STATE_CHOICES).get(scope.state, ""),
        "form": form,
        "figures": figures,
        "charts": _charts(figures),
        "deadline": campaign.self_assessment_deadline,
    }
    return TemplateResponse(request, "admin/evaluation/campaign/dashboard.html", context)
