"""What `contracts` tells `accounts` about an account: its EJ, hence its region (accounts/hooks.py)."""

from django.db.models import Q

from contracts.models import Membership
from ecars.lib.hooks import Block


MEMBER_CANNOT_BECOME_STAFF = (
    "Ce compte est membre d'entités juridiques : un agent n'en est jamais membre. Retirez-le d'abord de ses EJ."
)


def members_of_region(region_id):
    return Membership.objects.filter(ej__region_id=region_id).values("user_id")


def members_elsewhere(region_id):
    return Membership.objects.exclude(ej__region_id=region_id).values("user_id")


def members_found(term):
    return Membership.objects.filter(Q(ej__finess__icontains=term) | Q(ej__name__icontains=term)).values("user_id")


def staff_change_refused(user):
    return MEMBER_CANNOT_BECOME_STAFF if Membership.objects.filter(user=user).exists() else None


def ej_words(user):
    words = []
    for name, finess in Membership.objects.filter(user=user).values_list("ej__name", "ej__finess"):
        words.append(finess)
        words.extend(name.split())
    return words


def memberships_block(request):
    """« Mes entités juridiques » of « Mon compte »: the user's EJ and role in each."""
    memberships = Membership.objects.filter(user=request.user).select_related("ej").order_by("ej__name")
    return Block("contracts/_account_memberships.html", {"memberships": memberships})


def register():
    from accounts import hooks

    hooks.region_accounts.register(members_of_region)
    hooks.accounts_outside_region.register(members_elsewhere)
    hooks.account_search.register(members_found)
    hooks.staff_change_refused.register(staff_change_refused)
    hooks.password_context_words.register(ej_words)
    hooks.account_page.register(memberships_block)
