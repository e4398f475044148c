"""Admin of referentials, campaigns, self-evaluations and indicator values.

Referentials are national. Campaigns are scoped through their regions, the rest through the
contract's EJ. Self-evaluations and values are view-only here: they change through the services of
`evaluation.services`, which write the transition log and the value history (both read-only).
"""

from django import forms
from django.contrib import admin

from ecars.admin import ReadOnlyMixin, RegionScopedAdmin, ScopedRelatedListFilter, without_fields
from evaluation.models import (
    Campaign,
    IndicatorValue,
    IndicatorValueHistory,
    Node,
    Referential,
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
            "scope",
        )

    def clean(self):
        cleaned_data = super().clean()
        referential, parent = cleaned_data.get("referential"), cleaned_data.get("parent")
        if referential and parent and parent.referential_id != referential.pk:
            self.add_error("parent", "Le nœud parent doit appartenir au même référentiel.")
        return cleaned_data


@admin.register(Node)
class NodeAdmin(RegionScopedAdmin):
    region_path = None  # national
    form = NodeAdminForm
    list_display = ("code", "label", "referential", "value_type", "filled_by", "answer_level", "required", "scope")
    list_filter = ("referential", "value_type", "filled_by", "answer_level", "required", "scope")
    list_select_related = ("referential",)
    search_fields = ("code", "label")
    autocomplete_fields = ("parent",)
    fieldsets = (
        (None, {"fields": ("referential", "parent", "code", "label", "position")}),
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
                    "scope",
                ),
            },
        ),
    )


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
            "state",
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
        "state",
        "self_assessment_start",
        "self_assessment_deadline",
    )
    list_filter = ("state", "year", "contract_type", ("regions", ScopedRelatedListFilter))
    list_select_related = ("contract_type",)
    search_fields = ("code", "name")
    filter_horizontal = ("regions",)
    fieldsets = (
        (None, {"fields": ("code", "name", "contract_type", "year", "referential", "regions", "state")}),
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


class TransitionInline(ReadOnlyMixin, admin.TabularInline):
    model = Transition
    fields = ("created_at", "from_state", "to_state", "user", "reason")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(SelfEvaluation)
class SelfEvaluationAdmin(ReadOnlyMixin, RegionScopedAdmin):
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
    inlines = (TransitionInline,)

    @admin.display(description="entité juridique", ordering="contract__ej__finess")
    def ej(self, obj):
        return obj.contract.ej


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


class IndicatorValueHistoryInline(ReadOnlyMixin, admin.TabularInline):
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
