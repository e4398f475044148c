from django.contrib import admin
from django.urls import include, path

from ecars import views


urlpatterns = [
    path("", include("contracts.urls")),
    path("", include("evaluation.urls")),
    path("", include("documents.urls")),
    path("compte/", include("accounts.urls")),
    path("accounts/", include("accounts.allauth_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("sante/", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accessibilite/", views.accessibility, name="accessibility"),
    path("mentions-legales/", views.legal_notice, name="legal_notice"),
    path("donnees-personnelles/", views.personal_data, name="personal_data"),
    path("plan-du-site/", views.site_map, name="site_map"),
]

handler400 = "ecars.views.bad_request"
handler403 = "ecars.views.permission_denied"
handler404 = "ecars.views.page_not_found"
handler500 = "ecars.views.server_error"
# allauth answers its rate limits through this handler.
handler429 = "accounts.views.errors.too_many_requests"
