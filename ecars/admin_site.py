"""The admin site of agency staff: only staff roles get in, and every model admin obeys the privilege table.

The admin's own password pages are replaced by the portal's (allauth's: throttled, notified by e-mail),
and its logout by the portal's, so that there is one way to do each.
"""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.shortcuts import redirect

from ecars import privileges
from ecars.admin import PrivilegedAdminMixin, PrivilegedInlineMixin


class AdminSite(admin.AdminSite):
    # The service's name as the manual's screens give it (« Extranet e-CARS »), as on the portal's header.
    site_header = "Extranet e-CARS — administration"
    site_title = "Extranet e-CARS"
    index_title = "Gestion des contrats et des campagnes"

    def has_permission(self, request):
        """Staff roles only (ecars/privileges.py): an establishment account never enters, even marked staff."""
        return request.user.is_active and privileges.role_of(request.user) is not None

    def login(self, request, extra_context=None):
        # The portal's login: rate-limited, then the TOTP check (SECURITY.md A15).
        return secure_admin_login(super().login)(request, extra_context)

    def logout(self, request, extra_context=None):
        from allauth.account.views import logout

        return logout(request)

    def password_change(self, request, extra_context=None):
        return redirect("account_change_password")

    def password_change_done(self, request, extra_context=None):
        return redirect("accounts:account")


def hold_to_the_privilege_table(site) -> None:
    """Make every registered model admin check the privilege table, third-party ones included.

    Django's own checks let a superuser do anything; here a national administrator, too, has the powers
    of the table and no more. Third-party admins lose their own actions, which check nothing. Permission
    groups are not used (accounts/backends.py): their admin goes.
    """
    from django.contrib.auth.models import Group

    if site.is_registered(Group):
        site.unregister(Group)
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, PrivilegedAdminMixin):
            continue
        admin_class = type(model_admin)
        inlines = [
            inline
            if issubclass(inline, PrivilegedInlineMixin)
            else type(inline.__name__, (PrivilegedInlineMixin, inline), {})
            for inline in admin_class.inlines
        ]
        site.unregister(model)
        # Their actions are unchecked (allauth's « make_verified » declares no permission): none are kept.
        site.register(
            model, type(admin_class.__name__, (PrivilegedAdminMixin, admin_class), {"inlines": inlines, "actions": ()})
        )
