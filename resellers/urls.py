from django.urls import path
from rest_framework.routers import SimpleRouter

from resellers.views import MeView, ResellerMeView, ResellerViewSet

router = SimpleRouter()
router.register("resellers", ResellerViewSet, basename="reseller")

urlpatterns = [
    path("auth/me/", MeView.as_view(), name="auth-me"),
    path("resellers/me/", ResellerMeView.as_view(), name="reseller-me"),
    *router.urls,
]
