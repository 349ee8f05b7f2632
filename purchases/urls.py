from rest_framework.routers import SimpleRouter

from purchases.views import PurchaseViewSet

router = SimpleRouter()
router.register("purchases", PurchaseViewSet, basename="purchase")

urlpatterns = router.urls
