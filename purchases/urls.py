from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from core.parsing import ID_PATTERN
from purchases.views import (
    PurchaseExportView,
    PurchaseViewSet,
    ResellerCashbackView,
    ResellerMeCashbackView,
    ResellerMeSummaryView,
)

router = SimpleRouter()
router.register("purchases", PurchaseViewSet, basename="purchase")

# A reseller's cashback and month summary join resellers and purchases: they
# are served here, under the resellers/ paths users expect (the resellers
# router matches only numeric ids after resellers/, so these never clash).
urlpatterns = [
    # Before the router's routes; "exports" is no purchase id anyway.
    path("purchases/exports/", PurchaseExportView.as_view(), name="purchase-exports"),
    *router.urls,
    path("resellers/me/cashback/", ResellerMeCashbackView.as_view(), name="reseller-me-cashback"),
    path("resellers/me/summary/", ResellerMeSummaryView.as_view(), name="reseller-me-summary"),
    re_path(
        rf"^resellers/(?P<pk>{ID_PATTERN})/cashback/$",
        ResellerCashbackView.as_view(),
        name="reseller-cashback",
    ),
]
