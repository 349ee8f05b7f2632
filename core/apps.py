from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.signals import request_finished
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Infrastructure every app stands on: caching, parsing, pagination,
    errors, middleware, the schema, metrics, health and the admin site."""

    name = "core"
    verbose_name = _("Background work")

    def ready(self) -> None:
        from core.logging import clear_request_id

        request_finished.connect(clear_request_id, dispatch_uid="core.clear_request_id")
        from core.permission_names import rename_permissions

        # After django.contrib.auth's (listed before core) has created them.
        post_migrate.connect(rename_permissions, dispatch_uid="core.rename_permissions")
        from django.conf import settings

        if settings.METRICS_ENABLED:
            from core.metrics import connect_task_signals

            # In every process that runs tasks (workers, and the api when
            # they run in-process): /metrics counts them by name and outcome.
            connect_task_signals()


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the project's site (core.admin.AdminSite),
    installed as ``core.apps.AdminConfig`` in place of ``django.contrib.admin``."""

    default = False  # "core" alone means CoreConfig
    default_site = "core.admin.AdminSite"
    # Apps whose admin staff have no use for: simplejwt's token blacklist
    # (outstanding and blacklisted refresh tokens) is written by logout,
    # rotation and password changes, never by hand.
    hidden_apps = ("token_blacklist",)

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin module registers here
        from django.apps import apps
        from django.contrib import admin

        from core.admin import JobAdmin
        from core.models import Job

        admin.site.register(Job, JobAdmin)
        for app_config in apps.get_app_configs():
            if app_config.label in self.hidden_apps:
                for model in app_config.get_models():
                    if admin.site.is_registered(model):
                        admin.site.unregister(model)
