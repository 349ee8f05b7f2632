"""Pages for account holders, mounted by the root URLconf under ``conta/``."""

from django.urls import path

from accounts import pages

urlpatterns = [
    path("redefinir-senha/", pages.password_reset_page, name="password-reset-page"),
]
