"""Admin of user accounts, by e-mail address (no username), and of the national login rule.

Nobody sees or sets a password here: accounts receive an invitation (a link to choose their
password) or the manual's temporary password, by e-mail, through `accounts.invitations`. Powers come
from the privilege table (ecars/privileges.py); on top of it:
- an ARS agent sees the accounts of their region (its agents, the members of its EJ, the accounts it
  created) and manages only establishment accounts whose every membership is in that region;
- staff accounts are created and changed by national administrators only; superuser status, groups
  and per-user permissions are never edited in the admin (`manage.py createsuperuser` names the
  national administrators).
Every change is made by `accounts.services` and audited; a changed address is told to the old one.
"""

from allauth.mfa.utils import is_mfa_enabled
from allauth.usersessions import admin as usersessions_admin
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts import hooks, invitations, services
from accounts.enums import UserKind
from accounts.models import Invitation, LoginPolicy, User
from accounts.perms import accounts_managed_by, accounts_visible_to, may_manage_account
from ecars.admin import ReadOnlyMixin, RegionScopedAdmin, ScopedRelatedListFilter
from ecars.lib.http import request_context


ACCOUNT_EXISTS = "Un compte existe déjà avec cette adresse de messagerie."
REGION_REQUIRED = "Un agent ARS, Assurance Maladie ou OMEDIT doit avoir une région."
ESTABLISHMENT_NOT_STAFF = "Un compte établissement n'accède pas à l'administration : choisissez un type d'agent."
CUTOFF_IN_THE_FUTURE = (
    "La date ne peut pas être postérieure à aujourd'hui : une date future obligerait chaque compte, même "
    "celui qui vient de renouveler son mot de passe, à le renouveler encore."
)

# What an agent may never edit on an account, whoever it is; national administrators edit them on
# staff accounts. Superuser status, groups and permissions are edited by nobody.
STAFF_FIELDS = ("kind", "region", "is_staff")


class AccountForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "phone", "kind", "region", "is_staff", "is_active")

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(ACCOUNT_EXISTS)
        return email

    def clean(self):
        cleaned_data = super().clean()
        kind = cleaned_data.get("kind", self.instance.kind)
        region = cleaned_data.get("region", self.instance.region) if "region" in self.fields else True
        if kind != UserKind.ETABLISSEMENT and not region:
            self.add_error("region" if "region" in self.fields else None, REGION_REQUIRED)
        if kind == UserKind.ETABLISSEMENT and cleaned_data.get("is_staff"):
            self.add_error("is_staff", ESTABLISHMENT_NOT_STAFF)
        if kind != UserKind.ETABLISSEMENT and self.instance.pk is not None:
            # An agent is never a member of an EJ (contracts says whether this one is: accounts/hooks.py).
            for refusal in hooks.staff_change_refused.collect(self.instance):
                self.add_error("kind" if "kind" in self.fields else None, refusal)
        return cleaned_data


class AccountCreationForm(AccountForm):
    send_invitation = forms.BooleanField(
        label="Envoyer une invitation",
        required=False,
        initial=True,
        help_text=(
            "Un lien à usage unique, valable 7 jours, pour choisir son mot de passe. Sans invitation, "
            "le compte ne peut pas se connecter : vous pourrez l'envoyer plus tard depuis la liste."
        ),
    )

    class Meta(AccountForm.Meta):
        fields = ("email", "first_name", "last_name", "phone", "kind", "region", "is_staff")


@admin.register(User)
class UserAdmin(RegionScopedAdmin):
    form = AccountForm
    add_form = AccountCreationForm
    list_display = ("email", "full_name", "kind", "region", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active", ("region", ScopedRelatedListFilter))
    list_select_related = ("region",)
    search_fields = ("email", "first_name", "last_name")
    ordering = ("last_name", "first_name", "email")
    fieldsets = (
        (None, {"fields": ("email",)}),
        ("Identité", {"fields": ("first_name", "last_name", "phone")}),
        ("Rattachement", {"fields": STAFF_FIELDS}),
        ("Accès", {"fields": ("is_active",)}),
        (
            "Connexion",
            {
                "description": (
                    "Le mot de passe n'est jamais visible ni modifiable ici : envoyez une invitation ou un mot "
                    "de passe temporaire (actions de la liste des utilisateurs)."
                ),
                "fields": (
                    "totp",
                    "password_must_change",
                    "temporary_password_expires_at",
                    "password_changed_at",
                    "last_login",
                    "date_joined",
                    "public_id",
                ),
            },
        ),
    )
    add_fieldsets = (
        (None, {"fields": ("email", "first_name", "last_name", "phone", *STAFF_FIELDS, "send_invitation")}),
    )
    readonly_fields = (
        "totp",
        "password_must_change",
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

    @admin.display(description="double authentification", boolean=True)
    def totp(self, obj):
        return is_mfa_enabled(obj, types=["totp"])

    def lookup_allowed(self, lookup, value, request=None):
        # Never filter on the password hash (it would leak it character by character).
        return not lookup.startswith("password") and super().lookup_allowed(lookup, value, request)

    def scope_queryset(self, request, queryset):
        return accounts_visible_to(request.user, queryset)

    def get_search_results(self, request, queryset, search_term):
        """By address and name, and by what else ties an account (the FINESS or name of its EJ)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            for user_ids in hooks.account_search.collect(term):
                found |= queryset.filter(pk__in=user_ids)
        return found, may_have_duplicates

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or may_manage_account(request.user, obj)

    def has_invite_permission(self, request):
        return self.has_privilege(request, "invite")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)
        if request.user.is_national_admin or obj is not None:
            return fieldsets
        # An agent creates establishment accounts of their own region (see save_model).
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in STAFF_FIELDS]})
            for name, opts in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly_fields = super().get_readonly_fields(request, obj)
        if obj is None:
            return ()
        if request.user.is_national_admin:
            return readonly_fields
        return (*readonly_fields, *STAFF_FIELDS)

    def save_model(self, request, obj, form, change):
        if change:
            before = {name: form.initial.get(name) for name in form.changed_data}
            services.update_account(obj, before=before, acting_user=request.user, context=request_context(request))
            return
        if not request.user.is_national_admin:
            obj.kind, obj.is_staff, obj.region_id = UserKind.ETABLISSEMENT, False, request.user.region_id
        services.create_account(
            obj,
            acting_user=request.user,
            context=request_context(request),
            invite=form.cleaned_data.get("send_invitation", False),
        )
        if form.cleaned_data.get("send_invitation"):
            self.message_user(request, f"Invitation envoyée par courriel à {obj.email}.", messages.SUCCESS)

    @admin.action(description="Envoyer une invitation", permissions=["invite"])
    def send_invitations(self, request, queryset):
        """A single-use link to choose a password, for each selected account the user manages."""
        sent = self._send_credentials(request, queryset, invitations.send_invitation, staff_allowed=True)
        if sent:
            label = "invitation envoyée" if sent == 1 else "invitations envoyées"
            self.message_user(request, f"{sent} {label} par courriel.", messages.SUCCESS)

    @admin.action(description="Envoyer un mot de passe temporaire", permissions=["invite"])
    def send_temporary_passwords(self, request, queryset):
        """The manual's path, for establishment accounts: a temporary password valid 72 hours, to renew
        at the first login."""
        sent = self._send_credentials(request, queryset, invitations.send_temporary_password, staff_allowed=False)
        if sent:
            label = "mot de passe temporaire envoyé" if sent == 1 else "mots de passe temporaires envoyés"
            self.message_user(request, f"{sent} {label} par courriel.", messages.SUCCESS)

    def _send_credentials(self, request, queryset, send, *, staff_allowed: bool) -> int:
        """Call `send` for each active account of `queryset` that the user manages; name the others."""
        managed = set(accounts_managed_by(request.user, queryset).values_list("pk", flat=True))
        sent, skipped = 0, []
        for user in queryset.order_by("email"):
            establishment = user.is_establishment_user and not user.is_staff and not user.is_superuser
            if user.pk not in managed or not user.is_active or not (establishment or staff_allowed):
                skipped.append(user.email)
                continue
            send(user, acting_user=request.user, context=request_context(request))
            sent += 1
        if skipped:
            what = "aux comptes d'agents, " if not staff_allowed else ""
            self.message_user(
                request,
                f"Aucun courriel envoyé {what}aux comptes inactifs ni aux comptes que vous ne gérez pas : "
                f"{', '.join(skipped)}.",
                messages.WARNING,
            )
        return sent


# allauth's own admin searches sessions on `user__username`, which this user model does not have.
admin.site.unregister(UserSession)


@admin.register(UserSession)
class UserSessionAdmin(usersessions_admin.UserSessionAdmin):
    search_fields = ("user__email", "ip")


class LoginPolicyForm(forms.ModelForm):
    class Meta:
        model = LoginPolicy
        fields = ("renewal_cutoff",)

    def clean_renewal_cutoff(self):
        cutoff = self.cleaned_data["renewal_cutoff"]
        if cutoff is not None and cutoff > timezone.localdate():
            raise forms.ValidationError(CUTOFF_IN_THE_FUTURE)
        return cutoff


@admin.register(LoginPolicy)
class LoginPolicyAdmin(RegionScopedAdmin):
    """The portal's login rule: a single national row, set by national administrators, never deleted."""

    region_path = None  # national
    form = LoginPolicyForm
    fields = ("renewal_cutoff", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not LoginPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        policy = services.set_login_policy(
            form.cleaned_data["renewal_cutoff"], acting_user=request.user, context=request_context(request)
        )
        obj.pk, obj.updated_at, obj.updated_by = policy.pk, policy.updated_at, policy.updated_by
        obj._state.adding = False


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
