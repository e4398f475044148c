from django.urls import path

from accounts import views


app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("rafraichir-la-session/", views.refresh_session, name="refresh_session"),
]
