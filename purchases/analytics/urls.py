from django.urls import path

from purchases.analytics.views import (
    AnalyticsMonthlyView,
    AnalyticsSummaryView,
    AnalyticsTopProductsView,
    AnalyticsTopResellersView,
)

urlpatterns = [
    path("analytics/summary/", AnalyticsSummaryView.as_view(), name="analytics-summary"),
    path("analytics/monthly/", AnalyticsMonthlyView.as_view(), name="analytics-monthly"),
    path("analytics/top-resellers/", AnalyticsTopResellersView.as_view(), name="analytics-top-resellers"),
    path("analytics/top-products/", AnalyticsTopProductsView.as_view(), name="analytics-top-products"),
]
