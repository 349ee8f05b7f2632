"""Mounted by the root URLconf under ``admin/password-reset/``, ahead of the
admin site. The names are the ones Django looks up: ``admin_password_reset``
puts the link on the admin's login page, ``password_reset_confirm`` is the
link in the e-mail."""

from django.urls import path

from accounts import admin_views

urlpatterns = [
    path("", admin_views.AdminPasswordResetView.as_view(), name="admin_password_reset"),
    path("done/", admin_views.AdminPasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "<uidb64>/<token>/",
        admin_views.AdminPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("complete/", admin_views.AdminPasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
