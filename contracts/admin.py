"""Admin of regions, legal entities (EJ), establishments (ET), members and contracts.

Everything but contract types is scoped to the agent's region through the EJ. A FINESS number whose
Luhn key looks wrong is saved with a warning: no official text makes the key mandatory (DOMAIN.md §8).
"""

from django import forms
from django.contrib import admin, messages

from accounts.enums import UserKind
from contracts.finess import finess_luhn_ok
from contracts.hooks import contract_states
from contracts.models import (
    AdministrativeContact,
    Contract,
    ContractType,
    EntiteJuridique,
    Etablissement,
    IdentificationData,
    Membership,
    Region,
)
from ecars.admin import RegionScopedAdmin, ScopedRelatedListFilter, ScopedStackedInline, ScopedTabularInline


def warn_if_finess_key_looks_wrong(request, obj) -> None:
    """Warn (without refusing) when the Luhn key of a saved all-digit FINESS number fails."""
    if finess_luhn_ok(obj.finess) is False:
        messages.warning(
            request,
            f"La clé de contrôle du numéro FINESS {obj.finess} ({obj.name}) semble incorrecte : "
            "vérifiez le numéro. L'enregistrement a tout de même été effectué.",
        )


@admin.register(Region)
class RegionAdmin(RegionScopedAdmin):
    region_path = "pk"
    list_display = ("code", "name", "agency_name", "support_email", "support_phone", "business_email")
    search_fields = ("code", "name", "agency_name")


class EtablissementInline(ScopedTabularInline):
    model = Etablissement
    fields = ("finess", "name", "address", "postcode", "city", "phone")
    extra = 0
    show_change_link = True


class MembershipInline(ScopedTabularInline):
    model = Membership
    fields = ("user", "role", "is_admin")
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(EntiteJuridique)
class EntiteJuridiqueAdmin(RegionScopedAdmin):
    region_path = "region"
    list_display = ("finess", "name", "postcode", "city", "phone", "region")
    list_filter = (("region", ScopedRelatedListFilter),)
    list_select_related = ("region",)
    search_fields = ("finess", "name", "city", "postcode")
    fieldsets = (
        (None, {"fields": ("finess", "name", "region")}),
        ("Coordonnées", {"fields": ("address", "postcode", "city", "phone")}),
        ("Suivi", {"fields": ("public_id", "created_at", "updated_at")}),
    )
    readonly_fields = ("public_id", "created_at", "updated_at")
    inlines = (EtablissementInline, MembershipInline)

    def get_urls(self):
        # « Importer le fichier FINESS » (contracts/finess_admin.py), before the catch-all object URLs.
        from contracts.finess_admin import urls

        return urls(self) + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import_finess": self.has_privilege(request, "import")}
        return super().changelist_view(request, extra_context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.user.region_id is not None:
            initial.setdefault("region", request.user.region_id)
        return initial

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        warn_if_finess_key_looks_wrong(request, obj)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Etablissement:
            for etablissement in [*formset.new_objects, *(obj for obj, _ in formset.changed_objects)]:
                warn_if_finess_key_looks_wrong(request, etablissement)


class IdentificationDataInline(ScopedStackedInline):
    model = IdentificationData
    fields = (
        "year",
        ("beds_medicine", "beds_surgery", "beds_obstetrics"),
        ("beds_rehabilitation", "beds_psychiatry", "beds_long_term"),
        "places_home_hospitalisation",
        ("patient_record_software", "prescription_software", "pharmacy_software"),
        "prescription_software_certified",
        ("validated_at", "validated_by"),
    )
    # Validation is the establishment's act in pré-campagne, not the agent's.
    readonly_fields = ("validated_at", "validated_by")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("validated_by")


@admin.register(Etablissement)
class EtablissementAdmin(RegionScopedAdmin):
    region_path = "ej__region"
    list_display = ("finess", "name", "ej", "postcode", "city")
    list_filter = (("ej__region", ScopedRelatedListFilter),)
    list_select_related = ("ej",)
    search_fields = ("finess", "name", "city", "ej__finess", "ej__name")
    autocomplete_fields = ("ej",)
    fieldsets = (
        (None, {"fields": ("finess", "name", "ej")}),
        ("Coordonnées", {"fields": ("address", "postcode", "city", "phone")}),
        ("Suivi", {"fields": ("public_id",)}),
    )
    readonly_fields = ("public_id",)
    inlines = (IdentificationDataInline,)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        warn_if_finess_key_looks_wrong(request, obj)


@admin.register(IdentificationData)
class IdentificationDataAdmin(RegionScopedAdmin):
    region_path = "etablissement__ej__region"
    list_display = ("etablissement", "year", "validated_at", "updated_at")
    list_filter = ("year", ("etablissement__ej__region", ScopedRelatedListFilter))
    list_select_related = ("etablissement",)
    search_fields = (
        "etablissement__finess",
        "etablissement__name",
        "etablissement__ej__finess",
        "etablissement__ej__name",
    )
    autocomplete_fields = ("etablissement",)
    readonly_fields = ("validated_at", "validated_by", "updated_at")


@admin.register(Membership)
class MembershipAdmin(RegionScopedAdmin):
    region_path = "ej__region"
    list_display = ("user", "ej", "role", "is_admin", "created_at")
    list_filter = ("role", "is_admin", ("ej__region", ScopedRelatedListFilter))
    list_select_related = ("user", "ej")
    search_fields = ("user__email", "user__first_name", "user__last_name", "ej__finess", "ej__name")
    autocomplete_fields = ("user", "ej")
    readonly_fields = ("created_at",)


@admin.register(ContractType)
class ContractTypeAdmin(RegionScopedAdmin):
    region_path = None  # national
    list_display = ("code", "name")
    search_fields = ("code", "name")


class AdministrativeContactInline(ScopedTabularInline):
    model = AdministrativeContact
    fields = ("position", "last_name", "first_name", "function", "email", "phone")
    extra = 0


class ContractAdminForm(forms.ModelForm):
    class Meta:
        model = Contract
        fields = (
            "contract_type",
            "name",
            "code",
            "status",
            "ej",
            "etablissements",
            "ars_contact",
            "estimated_signature_date",
            "effective_date",
            "effective_end_date",
            "last_extension_date",
            "extension_months",
        )

    def clean(self):
        cleaned_data = super().clean()
        ej = cleaned_data.get("ej")
        outsiders = [et for et in cleaned_data.get("etablissements") or () if ej and et.ej_id != ej.pk]
        if outsiders:
            self.add_error(
                "etablissements",
                "Ces établissements n'appartiennent pas à l'entité juridique du contrat : "
                + ", ".join(str(et) for et in outsiders),
            )
        return cleaned_data


@admin.register(Contract)
class ContractAdmin(RegionScopedAdmin):
    region_path = "ej__region"
    form = ContractAdminForm
    list_display = (
        "name",
        "code",
        "contract_type",
        "ej",
        "status",
        "effective_date",
        "effective_end_date",
        "current_state",
    )
    list_filter = ("contract_type", "status", ("ej__region", ScopedRelatedListFilter))
    list_select_related = ("contract_type", "ej")
    search_fields = ("name", "code", "ej__finess", "ej__name", "etablissements__finess", "etablissements__name")
    autocomplete_fields = ("ej", "etablissements")
    fieldsets = (
        (None, {"fields": ("contract_type", "name", "code", "status", "ej", "etablissements", "ars_contact")}),
        (
            "Dates",
            {
                "fields": (
                    "estimated_signature_date",
                    "effective_date",
                    "effective_end_date",
                    "last_extension_date",
                    "extension_months",
                )
            },
        ),
        ("Suivi", {"fields": ("public_id", "created_at", "updated_at")}),
    )
    readonly_fields = ("public_id", "created_at", "updated_at")
    inlines = (AdministrativeContactInline,)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # « Etat en cours » of the page's contracts, in one query, from the app that follows the campaigns
        # (contracts/hooks.py). The labels are set on the very rows the list then shows (the page's
        # queryset keeps them once evaluated).
        states = contract_states.first(changelist.result_list, default={})
        for contract in changelist.result_list:
            contract.current_state_label = states.get(contract.pk, "—")
        return changelist

    @admin.display(description="état en cours")
    def current_state(self, obj):
        """« Etat en cours », as establishments see it on their EJ page."""
        return getattr(obj, "current_state_label", "—")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "ars_contact":
            # The ARS contact is an agent of the region, not an establishment user.
            agents = self.scoped_choices(db_field, request, kwargs.get("using"))
            kwargs["queryset"] = agents.exclude(kind=UserKind.ETABLISSEMENT).filter(is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AdministrativeContact)
class AdministrativeContactAdmin(RegionScopedAdmin):
    region_path = "contract__ej__region"
    list_display = ("last_name", "first_name", "function", "email", "phone", "contract")
    list_select_related = ("contract",)
    search_fields = (
        "last_name",
        "first_name",
        "email",
        "contract__name",
        "contract__ej__finess",
        "contract__ej__name",
    )
    autocomplete_fields = ("contract",)
