from rest_framework.routers import SimpleRouter

from resellers.views import ResellerViewSet

router = SimpleRouter()
router.register("resellers", ResellerViewSet, basename="reseller")

urlpatterns = router.urls
