"""Shared bases of the admin, the working screen of agency staff (STYLE.md §39, SECURITY.md C6).

- `PrivilegedAdminMixin`, `PrivilegedInlineMixin`: the powers on a model's pages and actions are those
  of the privilege table (ecars/privileges.py), for every role, national administrators included;
  a class may only narrow them further (object-level rules).
- `RegionScopedAdmin`: a non-superuser agency agent only sees the objects of their own region
  (`region_path` leads from the model to its region), foreign-key choices are limited the same way,
  and the page of an object outside that scope answers 404, as if it did not exist.
- `NoDeleteMixin` and `ReadOnlyMixin`: append-only data and data written by services cannot be
  deleted (or changed) from the admin, by anybody, superusers included.
- `admin_page` and `describe_errors`: the admin's own pages (evaluation, imports, dashboard) made of plain
  functions, and their forms' errors tied to their inputs.
- `admin_write`: the hook through which the audit app records what a model's admin pages add, change and delete
  (audit/admin_writes.py), in the same transaction.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

from ecars import privileges
from ecars.lib.hooks import Hook


# What is added, changed or deleted through a model's admin pages, in their transaction: the audit app records it
# (audit/apps.py), once per object, unless the admin's service already audited that object in the same request.
admin_write = Hook("admin_write")


def scope_to_region(queryset, user, region_path: str | None):
    """Restrict `queryset` to the region of an agency agent; superusers see everything.

    `region_path` is the lookup from the model to its region's primary key (`"region"`,
    `"ej__region"`, `"pk"` for the Region model itself); None marks national data, visible to all staff.
    Any other staff account (without a region or not an agency agent) sees nothing regional.
    """
    if user.is_superuser or region_path is None:
        return queryset
    if user.is_agency_staff and user.region_id is not None:
        return queryset.filter(**{region_path: user.region_id})
    return queryset.none()


def _scoping_admin(admin_site, model):
    """The registered admin of `model` if it defines a region scope, else None."""
    try:
        model_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        return None
    return model_admin if isinstance(model_admin, RegionScopedAdmin) else None


class PrivilegedAdminMixin:
    """A ModelAdmin whose pages and actions follow the privilege table; subclasses may only narrow them.

    Admin actions name their verb in `permissions=[…]`; `has_privilege` answers for it.
    """

    def has_privilege(self, request, verb: str) -> bool:
        return privileges.allows(request.user, self.opts.label_lower, verb)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Addresses typed without a scheme are https ones (Django 6's default, asked for explicitly).
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return bool(privileges.verbs(request.user, self.opts.label_lower))

    def has_view_permission(self, request, obj=None):
        return self.has_privilege(request, "view") and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self.has_privilege(request, "add") and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self.has_privilege(request, "change") and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_privilege(request, "delete") and super().has_delete_permission(request, obj)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        admin_write.collect(request, obj, action="added", message=message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        if message:  # Django logs « no fields changed » too: nothing was written
            admin_write.collect(request, obj, action="changed", message=message)
        return entry

    def log_deletions(self, request, queryset):
        # Called before the deletion, inside its transaction: the objects are still there to be named.
        for obj in queryset:
            admin_write.collect(request, obj, action="deleted", message="")
        return super().log_deletions(request, queryset)

    def history_view(self, request, object_id, extra_context=None):
        # Django looks the object up before checking the right to view the model: without that right,
        # the answer must not tell whether the object exists (403 either way, as the other pages).
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


class PrivilegedInlineMixin(PrivilegedAdminMixin):
    """The same for an inline: its rows are governed by the table's line of the inline's own model."""

    def has_add_permission(self, request, obj):
        return self.has_privilege(request, "add") and super(PrivilegedAdminMixin, self).has_add_permission(
            request, obj
        )


class ScopedChoicesMixin:
    """Limit the choices of foreign keys and many-to-many fields to what the user may see.

    The scope of a related model is the one of its registered admin; autocomplete results come
    from that admin's `get_queryset`, which is scoped too.
    """

    def scoped_choices(self, db_field, request, db):
        """The choices of a relation that the user may see; None when the related model is not scoped."""
        related_admin = _scoping_admin(self.admin_site, db_field.remote_field.model)
        if related_admin is None:
            return None
        queryset = self.get_field_queryset(db, db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.using(db).all()
        return related_admin.scope_queryset(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self.scoped_choices(db_field, request, kwargs.get("using"))
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self.scoped_choices(db_field, request, kwargs.get("using"))
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class RegionScopedAdmin(ScopedChoicesMixin, PrivilegedAdminMixin, admin.ModelAdmin):
    """A ModelAdmin whose lists, pages and choices are limited to the agent's region."""

    # Lookup from the model to its region's pk; None for national data (referentials, types…).
    region_path: str | None = None

    def scope_queryset(self, request, queryset):
        return scope_to_region(queryset, request.user, self.region_path)

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with « … n'existe pas » when get_object() finds nothing
        # (change, delete and history pages). An object of another region must look like a
        # missing one, with a plain 404 (STYLE.md §34).
        raise Http404("Aucun objet ne correspond à cette adresse.")


class ScopedTabularInline(ScopedChoicesMixin, PrivilegedInlineMixin, admin.TabularInline):
    """An inline whose foreign-key choices are scoped; its rows belong to an already scoped parent."""


class ScopedStackedInline(ScopedChoicesMixin, PrivilegedInlineMixin, admin.StackedInline):
    """An inline whose foreign-key choices are scoped; its rows belong to an already scoped parent."""


class ReadOnlyInline(PrivilegedInlineMixin, admin.TabularInline):
    """A view-only inline of rows written by services (logs, history): nobody adds, changes or deletes them."""

    extra = 0

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoDeleteMixin:
    """Never deleted from the admin, by anybody: no delete page, no « supprimer » action."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyMixin(NoDeleteMixin):
    """View-only for everybody: append-only logs, and data only written through services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def without_fields(fieldsets, hidden) -> list:
    """`fieldsets` minus the top-level fields named in `hidden` (fields kept off a form for some users)."""
    return [
        (name, {**options, "fields": [field for field in options["fields"] if field not in hidden]})
        for name, options in fieldsets
    ]


class ScopedRelatedListFilter(admin.RelatedFieldListFilter):
    """A list filter on a relation offering only the related objects the user may see."""

    def field_choices(self, field, request, model_admin):
        related_admin = _scoping_admin(model_admin.admin_site, field.remote_field.model)
        if related_admin is None:
            return super().field_choices(field, request, model_admin)
        queryset = field.remote_field.model._default_manager.all()
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in related_admin.scope_queryset(request, queryset)]


def admin_page(model_admin, function, *decorators, verb: str | None = None):
    """`function(model_admin, request, **url_kwargs)` as a page of `model_admin`: the admin's login, staff and TOTP
    checks (admin_view), then 403 unless the user holds `verb` on the model (privilege table), then `decorators`
    (the accepted methods)."""

    def page(request, **kwargs):
        if verb is not None and not model_admin.has_privilege(request, verb):
            raise PermissionDenied
        return function(model_admin, request, **kwargs)

    for decorator in decorators:
        page = decorator(page)
    return model_admin.admin_site.admin_view(page)


def describe_errors(form: forms.Form) -> None:
    """Tie each field's errors (rendered with the id `<field id>_error`) to its input, with its help text."""
    for name, bound in ((name, form[name]) for name in form.fields):
        ids = []
        if form.is_bound and bound.errors:
            ids.append(f"{bound.auto_id}_error")
        if bound.help_text:
            ids.append(f"{bound.auto_id}_helptext")
        if ids:
            form.fields[name].widget.attrs["aria-describedby"] = " ".join(ids)
