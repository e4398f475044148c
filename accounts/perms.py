"""Which accounts a staff member sees and manages (the object-level side of ecars/privileges.py).

The ties of an account to a region other than its own field (memberships of EJ) are told by the
hooks of accounts/hooks.py, which `contracts` answers.
"""

from django.db.models import Q

from accounts import hooks
from accounts.enums import UserKind


def _any_of(querysets):
    """Q(pk__in=…) for each user-id queryset, OR-ed; a Q matching nothing when there is none."""
    condition = Q(pk__in=[])
    for queryset in querysets:
        condition |= Q(pk__in=queryset)
    return condition


def accounts_visible_to(user, queryset):
    """National administrators see every account; an ARS agent those of their region, never a superuser."""
    if user.is_national_admin:
        return queryset
    if not (user.is_agency_staff and user.region_id is not None):
        return queryset.none()
    tied = _any_of(hooks.region_accounts.collect(user.region_id))
    return queryset.filter(is_superuser=False).filter(Q(region_id=user.region_id) | tied)


def accounts_managed_by(user, queryset):
    """The accounts `user` may change and send credentials to.

    An ARS agent: establishment accounts of their region none of whose ties is elsewhere (otherwise the
    agent would reach, through the account, another region's EJ). National administrators: all.
    """
    if user.is_national_admin:
        return queryset
    region_id = user.region_id
    elsewhere = _any_of(hooks.accounts_outside_region.collect(region_id))
    return (
        accounts_visible_to(user, queryset)
        .filter(kind=UserKind.ETABLISSEMENT, is_staff=False, is_superuser=False)
        .filter(Q(region_id=region_id) | Q(region__isnull=True))
        .exclude(elsewhere)
    )


def may_manage_account(user, account) -> bool:
    return accounts_managed_by(user, type(account).objects.filter(pk=account.pk)).exists()
