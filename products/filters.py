import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from core.filters import FilterSet
from core.parsing import BooleanFilter, IdFilter, NumberFilter
from products.models import Product
from products.selectors import product_search

PRICE_RANGE_MESSAGE = _("max_price must be greater than or equal to min_price.")


class ProductFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", PRICE_RANGE_MESSAGE)
        return cleaned


class ProductFilter(FilterSet):
    # A plain id, not a model choice: an unknown category is an empty list,
    # and validating the parameter costs no query.
    category = IdFilter(field_name="category_id", label=_("Category id"))
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, label=_("Name or SKU (contains)")
    )
    min_price = NumberFilter(field_name="price", lookup_expr="gte", label=_("Minimum price"))
    max_price = NumberFilter(field_name="price", lookup_expr="lte", label=_("Maximum price"))
    is_active = BooleanFilter(method="filter_is_active", label=_("Active (staff only)"))

    class Meta:
        model = Product
        fields = ["category", "search", "min_price", "max_price", "is_active"]
        form = ProductFilterForm

    def filter_search(self, queryset, name, value):
        return product_search(queryset, value)

    def filter_is_active(self, queryset, name, value):
        # Everyone else only ever sees active products (the selector), so the
        # parameter means nothing to them and is ignored.
        user = getattr(self.request, "user", None)
        if not getattr(user, "is_staff", False):
            return queryset
        return queryset.filter(is_active=value)
