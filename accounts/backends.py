"""Authentication by e-mail address (allauth), with the powers of the privilege table only.

Django's ModelBackend would also grant the permissions of groups and per-user grants: here a staff
account's permissions follow from its role alone (ecars/privileges.py), so that nobody can widen
them from the admin, and the table stays the one place where powers are written.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthAuthenticationBackend

from ecars.privileges import permission_names


class AuthenticationBackend(AllauthAuthenticationBackend):
    def get_user_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        role = user_obj.staff_role
        return permission_names(role) if role is not None else set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()
