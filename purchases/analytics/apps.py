from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Staff analytics over the purchases: no models of its own. An app so
    that its admin page and template are found like any other app's."""

    name = "purchases.analytics"
    label = "purchases_analytics"
