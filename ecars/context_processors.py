from django.conf import settings


def portal(request):
    """The service name and the « Un problème ? » contacts, for the layout."""
    return {
        "SERVICE_NAME": "e-CARS",
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "SUPPORT_PHONE": settings.SUPPORT_PHONE,
    }
