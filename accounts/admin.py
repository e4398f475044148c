"""Admin of user accounts, by e-mail address (no username).

Agency staff see the accounts of their region: its agency staff and the members of its EJ. They
can neither grant privileges (superuser status, groups, individual permissions) nor place an
account in another region, nor take over an account that holds more permissions than they do.
"""

from allauth.usersessions import admin as usersessions_admin
from allauth.usersessions.models import UserSession
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.html import format_html

from accounts import invitations
from accounts.enums import UserKind
from accounts.models import Invitation, LoginPolicy, User
from contracts.models import Membership
from ecars.admin import ReadOnlyMixin, RegionScopedAdmin, ScopedRelatedListFilter, without_fields


# Fields only a superuser may see and set: they grant privileges.
PRIVILEGE_FIELDS = ("is_superuser", "groups", "user_permissions")

_REGION_REQUIRED = "Un agent ARS, Assurance Maladie ou OMEDIT doit avoir une région."
_NO_INVITATION_YET_HELP = (
    "Facultatif. Sans mot de passe, le compte ne peut pas se connecter avant d'avoir reçu une invitation."
)


class UserCreationForm(auth_forms.BaseUserCreationForm):
    """A new account: identity, kind and region. The password is optional.

    Without a password the account gets an unusable one: it cannot sign in until it is invited.
    """

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "phone", "kind", "region")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].required = False
        self.fields["password2"].required = False
        password1 = self.fields["password1"]
        password1.help_text = format_html("<p>{}</p>{}", _NO_INVITATION_YET_HELP, password1.help_text)

    def clean(self):
        cleaned_data = super().clean()
        if bool(cleaned_data.get("password1")) != bool(cleaned_data.get("password2")):
            self.add_error("password2", "Saisissez deux fois le même mot de passe, ou laissez les deux champs vides.")
        # The database constraint cannot be checked by the form: `is_superuser` is not one of its fields.
        if "region" in self.fields and cleaned_data.get("kind") != UserKind.ETABLISSEMENT:
            if not cleaned_data.get("region"):
                self.add_error("region", _REGION_REQUIRED)
        return cleaned_data

    def set_password_and_save(self, user, commit=True, **kwargs):
        if self.cleaned_data.get("password1"):
            return super().set_password_and_save(user, commit=commit, **kwargs)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "first_name",
            "last_name",
            "phone",
            "kind",
            "region",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
            "password_must_change",
        )


def _permission_names(user) -> set[str]:
    """The permissions an account holds directly or through its groups, even when inactive."""
    rows = Permission.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
        "content_type__app_label", "codename"
    )
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def accounts_visible_to(user, queryset):
    """Superusers see every account; agency staff the accounts of their region, never a superuser."""
    if user.is_superuser:
        return queryset
    if not (user.is_agency_staff and user.region_id is not None):
        return queryset.none()
    members = Membership.objects.filter(ej__region_id=user.region_id).values("user_id")
    return queryset.filter(is_superuser=False).filter(Q(region_id=user.region_id) | Q(pk__in=members))


@admin.register(User)
class UserAdmin(RegionScopedAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "kind", "region", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active", ("region", ScopedRelatedListFilter), "groups")
    list_select_related = ("region",)
    search_fields = ("email", "first_name", "last_name", "memberships__ej__finess", "memberships__ej__name")
    ordering = ("last_name", "first_name", "email")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Identité", {"fields": ("first_name", "last_name", "phone")}),
        ("Rattachement", {"fields": ("kind", "region")}),
        ("Droits d'accès", {"fields": ("is_active", "is_staff", *PRIVILEGE_FIELDS)}),
        (
            "Connexion",
            {
                "fields": (
                    "password_must_change",
                    "temporary_password_expires_at",
                    "password_changed_at",
                    "last_login",
                    "date_joined",
                    "public_id",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "last_name", "phone", "kind", "region", "password1", "password2"),
            },
        ),
    )
    readonly_fields = (
        "temporary_password_expires_at",
        "password_changed_at",
        "last_login",
        "date_joined",
        "public_id",
    )
    actions = ("send_invitations", "send_temporary_passwords")

    @admin.display(description="nom", ordering="last_name")
    def full_name(self, obj):
        return obj.get_full_name()

    @admin.action(description="Envoyer une invitation", permissions=["change"])
    def send_invitations(self, request, queryset):
        """A single-use link to choose a password, for each selected establishment account."""
        sent = self._send_first_credentials(request, queryset, invitations.send_invitation)
        if sent:
            label = "invitation envoyée" if sent == 1 else "invitations envoyées"
            self.message_user(request, f"{sent} {label} par courriel.", messages.SUCCESS)

    @admin.action(description="Envoyer un mot de passe temporaire", permissions=["change"])
    def send_temporary_passwords(self, request, queryset):
        """The manual's path: a temporary password valid 72 hours, to renew at the first login."""
        sent = self._send_first_credentials(request, queryset, invitations.send_temporary_password)
        if sent:
            label = "mot de passe temporaire envoyé" if sent == 1 else "mots de passe temporaires envoyés"
            self.message_user(request, f"{sent} {label} par courriel.", messages.SUCCESS)

    def _send_first_credentials(self, request, queryset, send) -> int:
        """Call `send` for each active establishment account of `queryset`; report the others."""
        sent, skipped = 0, []
        for user in queryset.order_by("email"):
            if user.is_staff or user.is_superuser or not user.is_establishment_user or not user.is_active:
                skipped.append(user.email)
                continue
            if not self.has_change_permission(request, user):
                skipped.append(user.email)
                continue
            send(user, acting_user=request.user, request=request)
            sent += 1
        if skipped:
            self.message_user(
                request,
                "Aucun courriel envoyé aux comptes d'agents, aux comptes inactifs ni aux comptes que vous ne "
                f"pouvez pas modifier : {', '.join(skipped)}.",
                messages.WARNING,
            )
        return sent

    def scope_queryset(self, request, queryset):
        return accounts_visible_to(request.user, queryset)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # The region of a new account is the agent's own (see save_model).
        hidden = {*PRIVILEGE_FIELDS, "region"} if obj is None else set(PRIVILEGE_FIELDS)
        return without_fields(fieldsets, hidden)

    def get_readonly_fields(self, request, obj=None):
        readonly_fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly_fields
        return (*readonly_fields, "region")

    def has_change_permission(self, request, obj=None):
        """Nobody but a superuser may change an account holding permissions they do not hold.

        Otherwise an agent could reset the password of a better-endowed colleague and sign in as them.
        """
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser or obj.pk == request.user.pk:
            return True
        return not obj.is_superuser and _permission_names(obj) <= request.user.get_all_permissions()

    def save_model(self, request, obj, form, change):
        # An agent only creates accounts in their own region, and only makes agency staff of it.
        if not request.user.is_superuser:
            if not change or obj.kind != UserKind.ETABLISSEMENT or obj.is_staff:
                obj.region_id = request.user.region_id
        super().save_model(request, obj, form, change)


# allauth's own admin searches sessions on `user__username`, which this user model does not have.
admin.site.unregister(UserSession)


@admin.register(UserSession)
class UserSessionAdmin(usersessions_admin.UserSessionAdmin):
    search_fields = ("user__email", "ip")


@admin.register(LoginPolicy)
class LoginPolicyAdmin(RegionScopedAdmin):
    """The portal's login rules: a single row, which nobody deletes."""

    region_path = None  # national

    fields = ("renewal_cutoff", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not LoginPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyMixin, RegionScopedAdmin):
    """Invitations are sent from the user list (actions); their tokens are never shown."""

    region_path = "user__region"
    list_display = ("user", "created_by", "created_at", "expires_at", "used_at")
    list_select_related = ("user", "created_by")
    search_fields = ("user__email", "user__last_name")
    fields = ("user", "created_by", "created_at", "expires_at", "used_at")

    def scope_queryset(self, request, queryset):
        return queryset.filter(user__in=accounts_visible_to(request.user, User.objects.all()))
