"""Reads of the catalogue: every permission-scoped queryset lives here, and
the cache keys of the catalogue answers."""

from django.conf import settings
from django.db.models import Q, QuerySet

from core.cache import CATALOGUE, VersionedAnswer
from products.models import Category, Favorite, Product

# The cache namespace of every catalogue answer (products and categories);
# services bump its version after each committed catalogue write.


def product_list(*, user) -> QuerySet[Product]:
    """The products ``user`` may see: staff see every product, everyone else
    only the active ones (an inactive product is simply "not found")."""
    queryset = Product.objects.select_related("category")
    if not getattr(user, "is_staff", False):
        queryset = queryset.filter(is_active=True)
    return queryset


def product_search(queryset: QuerySet[Product], term: str) -> QuerySet[Product]:
    """Name or SKU containing the term, case-insensitively."""
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(Q(name__icontains=term) | Q(sku__icontains=term))


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def favorite_list(*, reseller) -> QuerySet[Favorite]:
    """The reseller's favourites, newest first, with their products and
    categories in the same query. Products deactivated since they were
    favourited are left out, like everywhere else a reseller looks."""
    return Favorite.objects.filter(reseller=reseller, product__is_active=True).select_related(
        "product__category"
    )


def catalogue_cache_seconds() -> int:
    return settings.PRODUCTS_CACHE_SECONDS


def catalogue_answer(*, is_staff: bool, url: str) -> VersionedAnswer:
    """The cached answer of one catalogue read.

    ``url`` is the absolute URL with its query string sorted: the same
    question asked with the parameters in another order is the same answer,
    and the host is part of it because paginated answers carry absolute
    ``next``/``previous`` links. Staff and everyone else see different
    products (inactive ones), hence the role."""
    return VersionedAnswer((CATALOGUE,), "staff" if is_staff else "member", url)
