import django_filters
from django import forms
from django.db.models import Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from core.filters import FilterSet
from core.parsing import DateFilter, IdFilter
from purchases.models import Purchase
from purchases.months import MONTH_PATTERN, month_start, next_month, parse_month

DATE_RANGE_MESSAGE = _("date_from must not be after date_to.")

# The list's orders (``?ordering=``, ascending or descending), its default,
# and the id as the last tie-breaker in the direction of the last key
# (core.filters.StableOrderingFilter): an export reads the rows in the order
# the list pages through them.
PURCHASE_ORDERING_FIELDS = ("date", "value", "created_at")
PURCHASE_DEFAULT_ORDERING = ("-date", "-id")
PURCHASE_ORDERINGS = tuple(f"{sign}{field}" for field in PURCHASE_ORDERING_FIELDS for sign in ("", "-"))


def purchase_ordering(value: str) -> tuple[str, ...]:
    """The ORDER BY of the list for an ``ordering`` value ("" for the default)."""
    if not value:
        return PURCHASE_DEFAULT_ORDERING
    return (value, "-id" if value.startswith("-") else "id")


class MonthField(forms.CharField):
    def __init__(self, **kwargs):
        # The month exactly as written: " 2026-03" is not one (the schema's pattern).
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return parse_month(value) if value else None


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN})
class MonthFilter(django_filters.Filter):
    """?month=YYYY-MM: purchases dated in that calendar month."""

    field_class = MonthField

    def filter(self, queryset, value):
        if not value:
            return queryset
        return queryset.filter(date__gte=value, date__lt=next_month(month_start(value)))


class PurchaseFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_from", DATE_RANGE_MESSAGE)
        return cleaned


class PurchaseFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=Purchase.Status.choices, label=_("The purchase's status"))
    month = MonthFilter(label=_("Month (YYYY-MM)"))
    date_from = DateFilter(
        field_name="date", lookup_expr="gte", label=_("Purchases dated on or after (YYYY-MM-DD)")
    )
    date_to = DateFilter(
        field_name="date", lookup_expr="lte", label=_("Purchases dated on or before (YYYY-MM-DD)")
    )
    # An id without a query: one that names no reseller matches nothing, and
    # a reseller's list holds only their own purchases anyway.
    reseller = IdFilter(field_name="reseller_id", label=_("Reseller id"))
    search = django_filters.CharFilter(
        method="filter_search", max_length=64, label=_("Code (contains, in any case)")
    )

    class Meta:
        model = Purchase
        form = PurchaseFilterForm
        fields = ["status", "month", "date_from", "date_to", "reseller", "search"]

    def filter_search(self, queryset, name, value):
        """The codes that contain ``value``, in any case. Everyone's purchases
        are searched through the trigram index (``icontains``). One
        reseller's (their own list, or the staff's ``reseller`` filter) are
        filtered row by row instead, with a test the index cannot serve
        (``STRPOS(UPPER(code), UPPER(term)) > 0``, the same match): they are
        a few thousand at most, while the index reads the matches of every
        reseller's codes, which grow with the table (the busiest reseller's
        first page by "NF-00013" at 1,000,000 purchases: 1 ms through their
        2,447 rows, 23 ms through the index's 31,600 matches)."""
        request = self.request
        one_reseller = self.form.cleaned_data.get("reseller") is not None or (
            request is not None and not request.user.is_staff
        )
        if one_reseller:
            return queryset.filter(GreaterThan(StrIndex(Upper("code"), Upper(Value(value))), 0))
        return queryset.filter(code__icontains=value)
