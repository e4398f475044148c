"""Admin of referentials, campaigns, self-evaluations, extension requests, indicator values and the
question's documents.

Referentials are national. Campaigns are scoped through their regions, the rest through the
contract's EJ. Self-evaluations, extension requests and values are view-only here: they change
through the services of `evaluation.services` and `evaluation.extensions`, which write the transition
log, the value history and the audit trail. The admin reaches those services through actions with an
intermediate form: « Rouvrir la saisie » on self-evaluations, « Accorder » and « Refuser » on extension
requests; and, without a form, « Ouvrir l'auto-évaluation » on contracts (whose admin is re-registered here).
"""

import tempfile

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Value
from django.http import FileResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from contracts.admin import ContractAdmin
from contracts.finess import department_of, department_q
from contracts.models import Contract
from documents.admin import DocumentAdmin
from documents.models import Document
from ecars import privileges
from ecars.admin import ReadOnlyInline, ReadOnlyMixin, RegionScopedAdmin, ScopedRelatedListFilter, without_fields
from ecars.lib.http import protect_user_file, request_context
from evaluation import exports, extensions, services
from evaluation.enums import ExtensionStatus, SelfEvaluationState
from evaluation.models import (
    Attachment,
    Campaign,
    ClosureReceipt,
    Consolidation,
    ContradictoryRound,
    Decision,
    Evaluation,
    ExtensionRequest,
    IndicatorValue,
    IndicatorValueHistory,
    Node,
    Notice,
    Observation,
    ObservationDocument,
    Referential,
    Report,
    SelfEvaluation,
    Transition,
)


# The path from a self-evaluation to what it is displayed with (its __str__ and the EJ column).
SELF_EVALUATION_RELATED = ("contract__ej", "campaign")
INDICATOR_VALUE_RELATED = ("indicator", *(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED))


@admin.register(Referential)
class ReferentialAdmin(RegionScopedAdmin):
    region_path = None  # national
    list_display = ("name", "version", "contract_type", "created_at")
    list_filter = ("contract_type",)
    list_select_related = ("contract_type",)
    search_fields = ("name", "contract_type__code")
    readonly_fields = ("created_at",)
    # « Importer un référentiel » in the object tools, for whoever holds `import` (evaluation/admin_pages/).
    change_list_template = "admin/evaluation/referential/change_list.html"

    def get_urls(self):
        from evaluation.admin_pages import referential_import

        return referential_import.urls(self) + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_import": self.has_privilege(request, "import")}
        return super().changelist_view(request, extra_context)


# What a question means to those who answered it: once it has answers, these never change.
MEANING_FIELDS = ("referential", "value_type", "filled_by", "required", "answer_level", "choices", "region")
MEANING_FROZEN = (
    "Cette question a déjà des réponses : son {fields} ne peut plus changer, sans quoi ces réponses "
    "changeraient de sens. Créez une nouvelle version du référentiel pour la prochaine campagne."
)


class NodeAdminForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = (
            "referential",
            "parent",
            "code",
            "label",
            "position",
            "value_type",
            "unit",
            "choices",
            "default_target",
            "filled_by",
            "answer_level",
            "required",
            "help_text",
            "region",
            "evaluated_by_ars",
            "evaluated_by_am",
            "evaluated_by_omedit",
        )

    def clean(self):
        cleaned_data = super().clean()
        referential = cleaned_data.get("referential", self.instance.referential if self.instance.pk else None)
        parent = cleaned_data.get("parent")
        region = cleaned_data.get("region") if "region" in self.fields else self.instance.region
        if referential and parent and parent.referential_id != referential.pk:
            self.add_error("parent", "Le nœud parent doit appartenir au même référentiel.")
        if parent and parent.region_id is not None and parent.region_id != getattr(region, "pk", None):
            self.add_error("parent", "Le nœud parent est régional : ses enfants sont des nœuds de la même région.")
        if self.instance.pk is not None:
            # Compared by value: Django's JSONField reports an empty list as always changed.
            changed = [
                name
                for name in MEANING_FIELDS
                if name in cleaned_data and cleaned_data[name] != getattr(self.instance, name)
            ]
            if changed and self.instance.values.answered().exists():
                labels = ", ".join(str(Node._meta.get_field(name).verbose_name) for name in changed)
                raise forms.ValidationError(MEANING_FROZEN.format(fields=labels), code="meaning_frozen")
        return cleaned_data


@admin.register(Node)
class NodeAdmin(RegionScopedAdmin):
    """National nodes are changed by national administrators; a region's agents add and change the
    regional nodes of their region, and see the national ones. Nobody deletes a node."""

    form = NodeAdminForm
    list_display = ("code", "label", "referential", "value_type", "filled_by", "answer_level", "required", "scope")
    list_filter = (
        "referential",
        "value_type",
        "filled_by",
        "answer_level",
        "required",
        ("region", ScopedRelatedListFilter),
    )
    list_select_related = ("referential", "region")
    search_fields = ("code", "label")
    autocomplete_fields = ("parent",)
    fieldsets = (
        (None, {"fields": ("referential", "parent", "code", "label", "position", "region")}),
        (
            "Indicateur",
            {
                "description": "Laisser le type de valeur vide pour un objectif ou un sous-objectif.",
                "fields": (
                    "value_type",
                    "unit",
                    "choices",
                    "default_target",
                    "filled_by",
                    "answer_level",
                    "required",
                    "help_text",
                ),
            },
        ),
        (
            "Évaluation",
            {
                "description": "Les instances qui rendent une décision sur cet indicateur après la clôture.",
                "fields": (("evaluated_by_ars", "evaluated_by_am", "evaluated_by_omedit"),),
            },
        ),
    )

    @admin.display(description="portée", ordering="region__name")
    def scope(self, obj):
        return "national" if obj.is_national else f"régional ({obj.region})"

    def scope_queryset(self, request, queryset):
        user = request.user
        if user.is_national_admin:
            return queryset
        return queryset.for_region(user.region_id) if user.region_id is not None else queryset.none()

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or request.user.is_national_admin or obj.region_id == request.user.region_id

    def get_readonly_fields(self, request, obj=None):
        readonly_fields = super().get_readonly_fields(request, obj)
        return readonly_fields if request.user.is_national_admin else (*readonly_fields, "region")

    def save_model(self, request, obj, form, change):
        if not request.user.is_national_admin:
            obj.region_id = request.user.region_id
        super().save_model(request, obj, form, change)


class CampaignAdminForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = (
            "code",
            "name",
            "contract_type",
            "year",
            "referential",
            "regions",
            "precampaign_start",
            "precampaign_end",
            "self_assessment_start",
            "self_assessment_deadline",
            "report_date",
            "contradictory_deadline",
        )

    def clean(self):
        cleaned_data = super().clean()
        contract_type, referential = cleaned_data.get("contract_type"), cleaned_data.get("referential")
        if contract_type and referential and referential.contract_type_id != contract_type.pk:
            self.add_error("referential", "Le référentiel doit être celui du type de contrat de la campagne.")
        return cleaned_data


@admin.register(Campaign)
class CampaignAdmin(RegionScopedAdmin):
    region_path = "regions"
    form = CampaignAdminForm
    list_display = (
        "name",
        "code",
        "year",
        "contract_type",
        "region_names",
        "self_assessment_start",
        "self_assessment_deadline",
    )
    list_filter = ("year", "contract_type", ("regions", ScopedRelatedListFilter))
    list_select_related = ("contract_type",)
    search_fields = ("code", "name")
    filter_horizontal = ("regions",)
    actions = ("export_csv", "export_xlsx")
    fieldsets = (
        (None, {"fields": ("code", "name", "contract_type", "year", "referential", "regions")}),
        (
            "Calendrier",
            {
                "fields": (
                    ("precampaign_start", "precampaign_end"),
                    ("self_assessment_start", "self_assessment_deadline"),
                    "report_date",
                    "contradictory_deadline",
                )
            },
        ),
    )

    @admin.display(description="régions")
    def region_names(self, obj):
        return ", ".join(region.name for region in obj.regions.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("regions")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None and not request.user.is_superuser:
            # An agent's new campaign covers their own region (see save_related).
            return without_fields(fieldsets, {"regions"})
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly_fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly_fields
        return (*readonly_fields, "regions")

    def has_change_permission(self, request, obj=None):
        """A campaign shared with other regions is changed by a superuser only."""
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return all(region.pk == request.user.region_id for region in obj.regions.all())

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser and request.user.region_id is not None:
            form.instance.regions.set([request.user.region_id])

    # « Tableau de bord » (evaluation/admin_pages/dashboard.py): its page, a column of the list and a link among
    # the campaign page's tools, for those who hold the `dashboard` verb.
    def get_urls(self):
        from evaluation.admin_pages import dashboard

        return dashboard.urls(self) + super().get_urls()

    def has_dashboard_permission(self, request):
        return self.has_privilege(request, "dashboard")

    def get_list_display(self, request):
        list_display = super().get_list_display(request)
        return (*list_display, "dashboard_link") if self.has_dashboard_permission(request) else list_display

    @admin.display(description="tableau de bord")
    def dashboard_link(self, obj):
        return format_html(
            '<a href="{}">Tableau de bord<span class="visually-hidden"> {}</span></a>',
            reverse("admin:evaluation_campaign_dashboard", args=[obj.pk]),
            obj.name,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.has_dashboard_permission(request) and str(object_id).isdigit():
            url = reverse("admin:evaluation_campaign_dashboard", args=[object_id])
            extra_context = {**(extra_context or {}), "dashboard_url": url}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_export_permission(self, request):
        return self.has_privilege(request, "export")

    @admin.action(description="Exporter (CSV)", permissions=["export"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")

    @admin.action(description="Exporter (Excel)", permissions=["export"])
    def export_xlsx(self, request, queryset):
        return self._export(request, queryset, "xlsx")

    def _export(self, request, queryset, fmt):
        """Every answer of the selected campaign (one at a time), of the agent's own region (national
        administrators: every region), through the service of `manage.py export_campaign`. CSV is streamed
        row by row; the workbook is written to a temporary file, then sent."""
        campaigns = list(queryset[:2])
        if len(campaigns) != 1:
            self.message_user(request, "Sélectionnez une seule campagne à exporter à la fois.", messages.ERROR)
            return None
        campaign = campaigns[0]
        region = exports.region_of(request.user)
        export = exports.CampaignExport(campaign, region=region)
        name = exports.file_name(campaign, region, fmt)
        exports.log_export(campaign, region, fmt, user=request.user)
        if fmt == exports.CSV:
            lines = exports.csv_lines(export.headers, export.rows())
            response = StreamingHttpResponse(lines, content_type=exports.MIME_TYPES[fmt])
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        else:
            file = tempfile.TemporaryFile()  # closed by the response once sent
            exports.write_xlsx(export.headers, export.rows(), file)
            file.seek(0)
            response = FileResponse(file, as_attachment=True, filename=name, content_type=exports.MIME_TYPES[fmt])
        return protect_user_file(response)


class TransitionInline(ReadOnlyInline):
    model = Transition
    fields = ("created_at", "from_state", "to_state", "user", "reason")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class ExtensionRequestInline(ReadOnlyInline):
    model = ExtensionRequest
    fields = ("created_at", "requested_by", "requested_until", "reason", "status", "decided_by", "decided_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by", "decided_by")


def _day(date) -> str:
    return f"{date:%d/%m/%Y}"


# Dates typed in a native date picker: ISO on the wire, whatever the locale.
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_INVALID = "Saisissez une date valide."


class GrantExtensionForm(forms.Form):
    until = forms.DateField(
        label="Prolongation accordée jusqu'au",
        required=False,
        widget=DATE_WIDGET,
        error_messages={"invalid": DATE_INVALID},
        help_text="Laisser vide pour accorder la date demandée.",
    )
    decision_reason = forms.CharField(
        label="Motif de la décision",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Facultatif ; communiqué à l'établissement.",
    )


class RefuseExtensionForm(forms.Form):
    decision_reason = forms.CharField(
        label="Motif du refus",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={"required": extensions.DECISION_REASON_REQUIRED},
        help_text="Communiqué à l'établissement.",
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label="Motif de la réouverture",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={"required": extensions.REOPEN_REASON_REQUIRED},
        help_text="Inscrit dans l'historique des états et communiqué aux signataires de l'établissement.",
    )
    extend_until = forms.DateField(
        label="Prolongation jusqu'au",
        required=False,
        widget=DATE_WIDGET,
        error_messages={"invalid": DATE_INVALID},
        help_text=(
            "Facultatif. Une auto-évaluation rouverte après sa date limite n'est modifiable par l'établissement "
            "qu'avec une prolongation : indiquez-en ici la date pour l'accorder en même temps."
        ),
    )


class ServiceActionsMixin:
    """Admin actions that ask for a form (a reason, a date) on an intermediate page, then call a service
    for each selected object. A refusal is reported per object; with a single object, a refusal about a
    field is shown on the form again."""

    action_form_template = "admin/evaluation/action_form.html"

    def run_service_action(
        self, request, queryset, *, action, form_class, title, intro, submit_label, describe, apply
    ):
        objects = list(queryset)
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            refusals = []
            for obj in objects:
                try:
                    level, message = apply(obj, form.cleaned_data)
                except extensions.ExtensionRefused as refusal:
                    if len(objects) == 1 and refusal.field in form.fields:
                        form.add_error(refusal.field, str(refusal))
                        break
                    refusals.append(f"{obj} : {refusal}")
                except PermissionDenied as refusal:
                    refusals.append(f"{obj} : {refusal}")
                else:
                    self.message_user(request, message, level)
            else:
                for refusal in refusals:
                    self.message_user(request, refusal, messages.ERROR)
                return None  # back to the list
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "opts": self.model._meta,
            "objects": [{"pk": obj.pk, "label": str(obj), "lines": describe(obj)} for obj in objects],
            "form": form,
            "media": self.media + form.media,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "submit_label": submit_label,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.action_form_template, context)


# The states « Évaluations » lists: from the closure on.
EVALUATED_STATES = SelfEvaluationState.closed_states()


class EvaluationStateFilter(admin.SimpleListFilter):
    """The states « Évaluations » lists, and those only (the state field's own filter offers them all)."""

    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return [(state.value, state.label) for state in EVALUATED_STATES]

    def queryset(self, request, queryset):
        code = self.value()
        return queryset.filter(state=code) if code in EVALUATED_STATES else queryset


class DepartmentFilter(admin.SimpleListFilter):
    title = "département"
    parameter_name = "departement"

    def lookups(self, request, model_admin):
        finess = model_admin.get_queryset(request).values_list("contract__ej__finess", flat=True).distinct()
        return [(code, code) for code in sorted({department_of(number) for number in finess})]

    def queryset(self, request, queryset):
        code = self.value()
        return queryset.filter(department_q(code, "contract__ej__finess")) if code else queryset


class EvaluationChangeList(ChangeList):
    """The list « Évaluations », its rows with their progress (only the list needs it, not each page's lookup)."""

    def get_queryset(self, request, exclude_parameters=None):
        from evaluation.decisions import with_progress
        from evaluation.perms import BODY_OF_ROLE

        body = BODY_OF_ROLE.get(privileges.role_of(request.user))
        queryset = super().get_queryset(request, exclude_parameters)
        return with_progress(queryset, body).annotate(progress_body=Value(body, output_field=CharField()))


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyMixin, RegionScopedAdmin):
    """« Évaluations »: the evaluators' list of their region's self-evaluations, and the pages made for their
    work (evaluation/admin_pages/): « Évaluer » (each body's decisions), the consolidation and the reports,
    the période contradictoire. Nothing here is edited as a form: every write goes through the services."""

    region_path = "contract__ej__region"
    list_select_related = SELF_EVALUATION_RELATED
    list_display = ("ej", "contract_name", "campaign", "state_label", "closed_on", "progress", "work")
    list_display_links = None
    list_filter = (EvaluationStateFilter, DepartmentFilter, "campaign")
    search_fields = ("contract__name", "contract__ej__finess", "contract__ej__name")
    ordering = ("closed_at", "pk")

    def get_urls(self):
        from evaluation.admin_pages import urls

        return urls(self) + super().get_urls()

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state__in=EVALUATED_STATES)

    def get_changelist(self, request, **kwargs):
        return EvaluationChangeList

    @admin.display(description="Etablissement (EJ)", ordering="contract__ej__finess")
    def ej(self, obj):
        return f"{obj.contract.ej.finess} - {obj.contract.ej.name}"

    @admin.display(description="Contrat", ordering="contract__name")
    def contract_name(self, obj):
        return obj.contract.name

    @admin.display(description="Etat", ordering="state")
    def state_label(self, obj):
        return obj.get_state_display()

    @admin.display(description="Clôturée le", ordering="closed_at")
    def closed_on(self, obj):
        return timezone.localtime(obj.closed_at).strftime("%d/%m/%Y") if obj.closed_at else "—"

    @admin.display(description="Progression")
    def progress(self, obj):
        """Questions decided by the agent's body / those it decides; for national administrators (no body),
        questions consolidated / all (`with_progress`)."""
        done = "consolidées" if obj.progress_body is None else "décidées"
        return f"{obj.decided} / {obj.to_decide} {done}"

    @admin.display(description="Travail")
    def work(self, obj):
        return format_html(
            '<a href="{}">Évaluer<span class="visually-hidden"> {}</span></a> · <a href="{}">Consolidation'
            '<span class="visually-hidden"> {}</span></a>',
            reverse("admin:evaluation_evaluation_evaluate", args=[obj.pk]),
            obj.contract.name,
            reverse("admin:evaluation_evaluation_consolidate", args=[obj.pk]),
            obj.contract.name,
        )


@admin.register(SelfEvaluation)
class SelfEvaluationAdmin(ServiceActionsMixin, ReadOnlyMixin, RegionScopedAdmin):
    region_path = "contract__ej__region"
    list_display = ("contract", "ej", "campaign", "state", "contradictory_round", "extended_until", "closed_at")
    list_filter = (
        "state",
        ("campaign", ScopedRelatedListFilter),
        "contract__contract_type",
        ("contract__ej__region", ScopedRelatedListFilter),
    )
    list_select_related = SELF_EVALUATION_RELATED
    search_fields = (
        "contract__name",
        "contract__ej__finess",
        "contract__ej__name",
        "campaign__code",
        "campaign__name",
    )
    readonly_fields = ("public_id", "created_at", "updated_at")
    inlines = (TransitionInline, ExtensionRequestInline)
    actions = ("reopen_self_evaluations",)

    @admin.display(description="entité juridique", ordering="contract__ej__finess")
    def ej(self, obj):
        return obj.contract.ej

    def has_reopen_permission(self, request):
        # The form stays read-only: reopening goes through the action and its service.
        return self.has_privilege(request, "reopen")

    @admin.action(description="Rouvrir la saisie", permissions=["reopen"])
    def reopen_self_evaluations(self, request, queryset):
        """« clôturée → auto-évaluation » with a reason, and optionally an extension, through the service."""
        today = timezone.localdate()

        def describe(self_evaluation):
            lines = [
                f"État : {self_evaluation.get_state_display()}",
                f"Date limite : {_day(self_evaluation.deadline)}",
            ]
            if self_evaluation.deadline < today:
                lines.append("Date limite passée : sans prolongation, l'établissement ne pourra pas saisir.")
            return lines

        def apply(self_evaluation, data):
            reopened = extensions.reopen(
                self_evaluation,
                acting_user=request.user,
                reason=data["reason"],
                extend_until=data["extend_until"],
                context=request_context(request),
            )
            if reopened.is_open_on(timezone.localdate()):
                return messages.SUCCESS, (
                    f"Saisie rouverte : {reopened}. L'établissement peut saisir jusqu'au {_day(reopened.deadline)} ; "
                    "ses signataires en sont informés par courriel."
                )
            return messages.WARNING, (
                f"Saisie rouverte : {reopened}. La date limite ({_day(reopened.deadline)}) est passée : "
                "l'établissement ne pourra saisir qu'avec une prolongation. Il peut la demander "
                "(« Demander une prolongation ») et vous pourrez l'accorder ; ses signataires sont informés "
                "par courriel."
            )

        return self.run_service_action(
            request,
            queryset.select_related("campaign", "contract__ej"),
            action="reopen_self_evaluations",
            form_class=ReopenForm,
            title="Rouvrir la saisie",
            intro="Remettre en auto-évaluation les auto-évaluations clôturées suivantes :",
            submit_label="Rouvrir la saisie",
            describe=describe,
            apply=apply,
        )


@admin.register(Transition)
class TransitionAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "self_evaluation__contract__ej__region"
    list_display = ("self_evaluation", "from_state", "to_state", "user", "created_at")
    list_filter = ("from_state", "to_state")
    list_select_related = (*(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED), "user")
    search_fields = (
        "self_evaluation__contract__name",
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
        "reason",
    )
    readonly_fields = ("created_at",)


@admin.register(Notice)
class NoticeAdmin(ReadOnlyMixin, RegionScopedAdmin):
    """The calendar's e-mails (opening, reminders, clôture d'office), one row per person: who was told what, when."""

    region_path = "self_evaluation__contract__ej__region"
    list_display = ("queued_at", "kind", "recipient", "self_evaluation", "deadline")
    list_filter = ("kind", "self_evaluation__campaign")
    list_select_related = (*(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED), "recipient")
    search_fields = (
        "recipient__email",
        "self_evaluation__contract__name",
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
    )
    date_hierarchy = "queued_at"


class IndicatorValueHistoryInline(ReadOnlyInline):
    model = IndicatorValueHistory
    fields = ("version", "changes", "changed_by", "changed_at")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


@admin.register(IndicatorValue)
class IndicatorValueAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "self_evaluation__contract__ej__region"
    list_display = (
        "indicator_code",
        "self_evaluation",
        "etablissement",
        "target",
        "value",
        "not_applicable",
        "updated_at",
        "updated_by",
    )
    list_filter = ("not_applicable", ("self_evaluation__campaign", ScopedRelatedListFilter), "indicator__filled_by")
    list_select_related = (*INDICATOR_VALUE_RELATED, "etablissement", "updated_by")
    search_fields = (
        "indicator__code",
        "self_evaluation__contract__name",
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
        "etablissement__finess",
        "etablissement__name",
    )
    readonly_fields = ("version", "updated_at")
    inlines = (IndicatorValueHistoryInline,)

    @admin.display(description="indicateur", ordering="indicator__code")
    def indicator_code(self, obj):
        return obj.indicator.code


@admin.register(IndicatorValueHistory)
class IndicatorValueHistoryAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "indicator_value__self_evaluation__contract__ej__region"
    list_display = ("indicator_value", "version", "changed_by", "changed_at")
    list_select_related = (*(f"indicator_value__{path}" for path in INDICATOR_VALUE_RELATED), "changed_by")
    search_fields = (
        "indicator_value__indicator__code",
        "indicator_value__self_evaluation__contract__ej__finess",
        "indicator_value__self_evaluation__contract__ej__name",
    )
    readonly_fields = ("changed_at",)


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(ServiceActionsMixin, ReadOnlyMixin, RegionScopedAdmin):
    """Requests are never deleted nor edited: the decision goes through « Accorder » or « Refuser »."""

    region_path = "self_evaluation__contract__ej__region"
    list_display = (
        "ej",
        "contract",
        "campaign",
        "current_deadline",
        "requested_until",
        "status",
        "created_at",
        "requested_by",
        "decided_at",
        "decided_by",
    )
    list_filter = ("status", ("self_evaluation__campaign", ScopedRelatedListFilter))
    list_select_related = (
        *(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED),
        "requested_by",
        "decided_by",
    )
    search_fields = (
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
        "self_evaluation__contract__name",
        "reason",
    )
    fields = (
        "self_evaluation",
        "current_deadline",
        ("requested_by", "created_at"),
        "requested_until",
        "reason",
        "status",
        ("decided_by", "decided_at"),
        "decision_reason",
    )
    readonly_fields = ("current_deadline",)
    actions = ("grant_extensions", "refuse_extensions")

    @admin.display(description="entité juridique", ordering="self_evaluation__contract__ej__finess")
    def ej(self, obj):
        return obj.self_evaluation.contract.ej

    @admin.display(description="contrat", ordering="self_evaluation__contract__name")
    def contract(self, obj):
        return obj.self_evaluation.contract

    @admin.display(description="campagne", ordering="self_evaluation__campaign__name")
    def campaign(self, obj):
        return obj.self_evaluation.campaign

    @admin.display(description="date limite actuelle")
    def current_deadline(self, obj):
        return obj.self_evaluation.deadline

    def has_decide_permission(self, request):
        # The form stays read-only: the decision goes through the actions and their service.
        return self.has_privilege(request, "decide")

    @staticmethod
    def _describe(extension_request):
        lines = [
            f"Demandée le {_day(timezone.localtime(extension_request.created_at))} "
            f"par {extension_request.requested_by} : jusqu'au {_day(extension_request.requested_until)} "
            f"(date limite actuelle : {_day(extension_request.self_evaluation.deadline)})",
            f"Motif : {extension_request.reason}",
        ]
        if extension_request.status != ExtensionStatus.EN_ATTENTE:
            lines.append(f"Déjà {extension_request.get_status_display()} : elle ne sera pas modifiée.")
        return lines

    def _selected(self, queryset):
        return queryset.select_related("self_evaluation__campaign", "self_evaluation__contract__ej", "requested_by")

    @admin.action(description="Accorder", permissions=["decide"])
    def grant_extensions(self, request, queryset):
        def apply(extension_request, data):
            extensions.decide_extension(
                extension_request,
                acting_user=request.user,
                grant=True,
                decision_reason=data["decision_reason"],
                until=data["until"],
                context=request_context(request),
            )
            extension_request.self_evaluation.refresh_from_db(fields=["extended_until"])
            self_evaluation = extension_request.self_evaluation
            return (
                messages.SUCCESS,
                f"Prolongation accordée jusqu'au {_day(self_evaluation.deadline)} : {self_evaluation}.",
            )

        return self.run_service_action(
            request,
            self._selected(queryset),
            action="grant_extensions",
            form_class=GrantExtensionForm,
            title="Accorder la prolongation",
            intro="Accorder les demandes de prolongation suivantes :",
            submit_label="Accorder",
            describe=self._describe,
            apply=apply,
        )

    @admin.action(description="Refuser", permissions=["decide"])
    def refuse_extensions(self, request, queryset):
        def apply(extension_request, data):
            extensions.decide_extension(
                extension_request,
                acting_user=request.user,
                grant=False,
                decision_reason=data["decision_reason"],
                context=request_context(request),
            )
            return messages.SUCCESS, f"Prolongation refusée : {extension_request.self_evaluation}."

        return self.run_service_action(
            request,
            self._selected(queryset),
            action="refuse_extensions",
            form_class=RefuseExtensionForm,
            title="Refuser la prolongation",
            intro="Refuser les demandes de prolongation suivantes :",
            submit_label="Refuser",
            describe=self._describe,
            apply=apply,
        )


@admin.register(ClosureReceipt)
class ClosureReceiptAdmin(ReadOnlyMixin, RegionScopedAdmin):
    """Attestations de clôture are made by the closure; the file is served by the portal's receipt page."""

    region_path = "self_evaluation__contract__ej__region"
    list_display = ("self_evaluation", "closed_at", "closed_by", "filled", "total")
    list_select_related = (*(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED), "closed_by")
    search_fields = (
        "self_evaluation__contract__name",
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
        "answers_sha256",
        "file_sha256",
    )
    fields = (
        "self_evaluation",
        ("closed_by", "closed_at"),
        ("filled", "total"),
        "storage_key",
        "file_sha256",
        "answers_sha256",
    )
    readonly_fields = ("storage_key",)

    @admin.display(description="clé de stockage")
    def storage_key(self, obj):
        # Not a link: the private storage has no public URL.
        return obj.file.name


# The question's documents: their own list, and the questions each document is listed under on the
# documents' admin, which `documents` registers knowing nothing of questions.

# What an attachment is displayed with: its document, and the question's indicator and self-evaluation.
ATTACHMENT_RELATED = (
    "indicator_value__indicator",
    "indicator_value__self_evaluation__contract",
    "indicator_value__self_evaluation__campaign",
)


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ("indicator_value", "attached_by", "attached_at", "withdrawn_at", "withdrawn_by")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*ATTACHMENT_RELATED, "attached_by", "withdrawn_by")


class DocumentWithAttachmentsAdmin(DocumentAdmin):
    inlines = (*DocumentAdmin.inlines, AttachmentInline)


admin.site.unregister(Document)
admin.site.register(Document, DocumentWithAttachmentsAdmin)


# « Ouvrir l'auto-évaluation » on the contracts' admin, which `contracts` registers knowing nothing of
# self-evaluations.


class ContractWithSelfEvaluationAdmin(ContractAdmin):
    actions = (*ContractAdmin.actions, "open_self_evaluations")

    def has_open_permission(self, request):
        return self.has_privilege(request, "open")

    @admin.action(description="Ouvrir l'auto-évaluation", permissions=["open"])
    def open_self_evaluations(self, request, queryset):
        """Open each selected contract's self-evaluation in the current campaign of its type and region,
        through the service a bulk opening uses; one message per contract. Each contract is opened in its
        own transaction: a refusal or an error leaves it as it was, and the others go on."""
        today = timezone.localdate()
        context = request_context(request)
        for contract in queryset.select_related("ej"):
            label = f"{contract} ({contract.ej.finess} - {contract.ej.name})"
            try:
                opening = services.open_current_self_evaluation(
                    contract, acting_user=request.user, context=context, today=today
                )
            except (services.OpeningRefused, PermissionDenied) as refusal:
                self.message_user(request, f"{label} : auto-évaluation non ouverte. {refusal}", messages.ERROR)
            else:
                level = messages.SUCCESS if opening.changed else messages.INFO
                self.message_user(request, f"{label} : {opening.message}", level)


admin.site.unregister(Contract)
admin.site.register(Contract, ContractWithSelfEvaluationAdmin)


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "document__ej__region"
    list_display = ("document", "indicator_value", "attached_by", "attached_at", "withdrawn_at")
    list_filter = (("withdrawn_at", admin.EmptyFieldListFilter),)
    list_select_related = ("document", *ATTACHMENT_RELATED, "attached_by")
    search_fields = (
        "document__original_name",
        "document__ej__finess",
        "document__ej__name",
        "indicator_value__indicator__code",
    )
    readonly_fields = ("attached_at",)


# --- The evaluation's records, read-only: they are written by the services of « Évaluations » ----------

VALUE_RELATED = tuple(f"value__{path}" for path in INDICATOR_VALUE_RELATED)
VALUE_SEARCH = (
    "value__indicator__code",
    "value__self_evaluation__contract__name",
    "value__self_evaluation__contract__ej__finess",
    "value__self_evaluation__contract__ej__name",
)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "value__self_evaluation__contract__ej__region"
    list_display = ("value", "body", "verdict", "decided_by", "decided_at")
    list_filter = ("body", "verdict")
    list_select_related = (*VALUE_RELATED, "decided_by")
    search_fields = VALUE_SEARCH


@admin.register(Consolidation)
class ConsolidationAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "value__self_evaluation__contract__ej__region"
    list_display = ("value", "verdict", "decided_by", "decided_at")
    list_filter = ("verdict",)
    list_select_related = (*VALUE_RELATED, "decided_by")
    search_fields = VALUE_SEARCH


@admin.register(Report)
class ReportAdmin(ReadOnlyMixin, RegionScopedAdmin):
    """The reports' files are served by the evaluators' pages and the contract page, which check who reads."""

    region_path = "self_evaluation__contract__ej__region"
    list_display = ("self_evaluation", "version", "final", "generated_at", "sent_at", "read_at", "read_by")
    list_filter = ("final",)
    list_select_related = (
        *(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED),
        "generated_by",
        "sent_by",
        "read_by",
    )
    search_fields = (
        "self_evaluation__contract__name",
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
        "file_sha256",
    )
    exclude = ("file",)


@admin.register(ContradictoryRound)
class ContradictoryRoundAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "self_evaluation__contract__ej__region"
    list_display = ("self_evaluation", "number", "deadline", "opened_at", "observations_sent_at")
    list_select_related = (
        *(f"self_evaluation__{path}" for path in SELF_EVALUATION_RELATED),
        "opened_by",
        "observations_sent_by",
    )
    search_fields = (
        "self_evaluation__contract__name",
        "self_evaluation__contract__ej__finess",
        "self_evaluation__contract__ej__name",
    )


@admin.register(Observation)
class ObservationAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "value__self_evaluation__contract__ej__region"
    list_display = ("value", "round", "status", "sent_at", "answered_at")
    list_filter = ("status",)
    list_select_related = (
        *VALUE_RELATED,
        *(f"round__self_evaluation__{path}" for path in SELF_EVALUATION_RELATED),
        "written_by",
        "answered_by",
    )
    search_fields = (*VALUE_SEARCH, "text", "answer")


@admin.register(ObservationDocument)
class ObservationDocumentAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_path = "observation__value__self_evaluation__contract__ej__region"
    list_display = ("document", "observation", "added_by", "added_at")
    list_select_related = (
        "document",
        *(f"observation__{path}" for path in VALUE_RELATED),
        "observation__round",
        "added_by",
    )
    search_fields = (
        "document__original_name",
        "observation__value__self_evaluation__contract__ej__finess",
        "observation__value__self_evaluation__contract__ej__name",
    )
