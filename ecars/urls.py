from django.contrib import admin
from django.urls import include, path

from ecars import views


admin.site.site_header = "e-CARS — administration"
admin.site.site_title = "e-CARS"
admin.site.index_title = "Gestion des contrats et des campagnes"

urlpatterns = [
    path("", include("contracts.urls")),
    path("compte/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("sante/", views.health, name="health"),
]

handler400 = "ecars.views.bad_request"
handler403 = "ecars.views.permission_denied"
handler404 = "ecars.views.page_not_found"
handler500 = "ecars.views.server_error"
