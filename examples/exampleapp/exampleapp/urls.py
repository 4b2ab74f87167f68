"""URLs: a page, a guestbook form (login + CSRF), login/logout, admin, health, private files."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from guestbook import views

urlpatterns = [
    path("", views.home, name="home"),
    path("guestbook/", views.guestbook, name="guestbook"),
    path("health/", views.health, name="health"),
    path("private/<path:name>", views.private_file, name="private-file"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(settings.ADMIN_URL, admin.site.urls),
]
