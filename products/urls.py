from django.urls import path
from rest_framework.routers import SimpleRouter

from products.views import CategoryViewSet, FavoriteDetailView, FavoriteListView, ProductViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("categories", CategoryViewSet, basename="category")

# Plain paths under resellers/me/: the resellers router only matches numeric
# ids after resellers/, so these never clash with it.
urlpatterns = [
    path("resellers/me/favorites/", FavoriteListView.as_view(), name="favorite-list"),
    path(
        "resellers/me/favorites/<int:product_id>/",
        FavoriteDetailView.as_view(),
        name="favorite-detail",
    ),
    *router.urls,
]
