"""The admin's "forgotten your password?" pages: Django's views and the
admin's own templates, with the token generator and timeout of the API's
reset (PASSWORD_RESET_TIMEOUT)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import reverse

from accounts.forms import AdminPasswordResetForm, AdminSetPasswordForm


class AdminPageMixin:
    """The admin site's header and title on these pages, as on its own."""

    def get_context_data(self, **kwargs):
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}


class AdminPasswordResetView(AdminPageMixin, auth_views.PasswordResetView):
    form_class = AdminPasswordResetForm

    @property
    def extra_email_context(self):
        # The site's name and PUBLIC_BASE_URL in the message, never the host
        # (and port) the request named.
        base = urlsplit(settings.PUBLIC_BASE_URL)
        return {"site_name": str(admin.site.site_title), "protocol": base.scheme, "domain": base.netloc}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


class AdminPasswordResetDoneView(AdminPageMixin, auth_views.PasswordResetDoneView):
    pass


class AdminPasswordResetConfirmView(AdminPageMixin, auth_views.PasswordResetConfirmView):
    form_class = AdminSetPasswordForm

    def get_user(self, uidb64):
        # A link issued before the account was deactivated does not reopen it.
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None


class AdminPasswordResetCompleteView(AdminPageMixin, auth_views.PasswordResetCompleteView):
    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "login_url": reverse("admin:login")}
