from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project itself: settings, the root URLconf and the seed command,
    which composes every app."""

    name = "config"
    verbose_name = "Configuration"
