"""Which accounts a staff member sees and manages (the object-level side of ecars/privileges.py)."""

from django.db.models import Q

from accounts.enums import UserKind
from contracts.models import Membership


def accounts_visible_to(user, queryset):
    """National administrators see every account; an ARS agent those of their region, never a superuser."""
    if user.is_national_admin:
        return queryset
    if not (user.is_agency_staff and user.region_id is not None):
        return queryset.none()
    members = Membership.objects.filter(ej__region_id=user.region_id).values("user_id")
    return queryset.filter(is_superuser=False).filter(Q(region_id=user.region_id) | Q(pk__in=members))


def accounts_managed_by(user, queryset):
    """The accounts `user` may change and send credentials to.

    An ARS agent: establishment accounts of their region whose every membership is in it (otherwise
    the agent would reach, through the account, another region's EJ). National administrators: all.
    """
    if user.is_national_admin:
        return queryset
    region_id = user.region_id
    elsewhere = Membership.objects.exclude(ej__region_id=region_id).values("user_id")
    return (
        accounts_visible_to(user, queryset)
        .filter(kind=UserKind.ETABLISSEMENT, is_staff=False, is_superuser=False)
        .filter(Q(region_id=region_id) | Q(region__isnull=True))
        .exclude(pk__in=elsewhere)
    )


def may_manage_account(user, account) -> bool:
    return accounts_managed_by(user, type(account).objects.filter(pk=account.pk)).exists()
