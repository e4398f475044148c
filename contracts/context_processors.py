from django.utils.functional import SimpleLazyObject

from contracts.models import Region


def _single_region(user):
    """The region of all the user's EJ (or of the agent), if there is exactly one."""
    if user.region_id:
        return user.region
    regions = list(Region.objects.filter(ejs__memberships__user=user).distinct()[:2])
    return regions[0] if len(regions) == 1 else None


def support(request):
    """« Un problème ? »: the region whose support to show when the page does not say (queried only then)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"user_support_region": SimpleLazyObject(lambda: _single_region(user))}
