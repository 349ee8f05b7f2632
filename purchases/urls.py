from django.urls import path
from rest_framework.routers import SimpleRouter

from purchases.analytics_views import (
    AnalyticsMonthlyView,
    AnalyticsSummaryView,
    AnalyticsTopProductsView,
    AnalyticsTopResellersView,
)
from purchases.views import PurchaseViewSet

router = SimpleRouter()
router.register("purchases", PurchaseViewSet, basename="purchase")

urlpatterns = [
    *router.urls,
    path("analytics/summary/", AnalyticsSummaryView.as_view(), name="analytics-summary"),
    path("analytics/monthly/", AnalyticsMonthlyView.as_view(), name="analytics-monthly"),
    path("analytics/top-resellers/", AnalyticsTopResellersView.as_view(), name="analytics-top-resellers"),
    path("analytics/top-products/", AnalyticsTopProductsView.as_view(), name="analytics-top-products"),
]
