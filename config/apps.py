from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.signals import request_finished


class ConfigConfig(AppConfig):
    """Project-wide wiring that belongs to no single app."""

    name = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from config.logging import clear_request_id

        request_finished.connect(clear_request_id, dispatch_uid="config.clear_request_id")


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the project's site (config.admin.AdminSite),
    installed as ``config.apps.AdminConfig`` in place of ``django.contrib.admin``."""

    default = False  # "config" alone means ConfigConfig
    default_site = "config.admin.AdminSite"
    # Apps whose admin staff have no use for: simplejwt's token blacklist
    # (outstanding and blacklisted refresh tokens) is written by logout,
    # rotation and password changes, never by hand.
    hidden_apps = ("token_blacklist",)

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin module registers here
        from django.apps import apps
        from django.contrib import admin

        for app_config in apps.get_app_configs():
            if app_config.label in self.hidden_apps:
                for model in app_config.get_models():
                    if admin.site.is_registered(model):
                        admin.site.unregister(model)
