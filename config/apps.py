from django.apps import AppConfig
from django.core.signals import request_finished


class ConfigConfig(AppConfig):
    """Project-wide wiring that belongs to no single app."""

    name = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from config.logging import clear_request_id

        request_finished.connect(clear_request_id, dispatch_uid="config.clear_request_id")
