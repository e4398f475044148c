from django.urls import path

from contracts import views


app_name = "contracts"

urlpatterns = [
    path("", views.home, name="home"),
    path("ej/<uuid:public_id>/membres/", views.members, name="members"),
    path("ej/<uuid:public_id>/membres/role/", views.change_member_role, name="change_member_role"),
    path("ej/<uuid:public_id>/membres/retirer/", views.remove_member, name="remove_member"),
]
