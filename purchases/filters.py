import django_filters
from django import forms
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, OuterRef, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from core.filters import FilterSet
from core.lookups import InIntegers
from core.pagination import PageNumberPagination
from core.parsing import DateFilter, IdFilter, is_ascii_integer
from purchases.models import CodeCounts, Purchase
from purchases.months import MONTH_PATTERN, month_start, next_month, parse_month

DATE_RANGE_MESSAGE = _("date_from must not be after date_to.")
# The staff's search reads the matching codes' first rows code by code when
# at most this many codes contain the term and this many rows are to be
# read in all (first page of 50: 40 codes), else the rows that contain it.
MERGED_CODES = 64
MERGED_ROWS = 2_000

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
        """The codes that contain ``value``, in any case.

        Everyone's purchases, searched with no other filter (the staff's
        list), are read code by code on PostgreSQL when few codes match
        (``_first_rows_by_code``). Otherwise they are searched through the
        trigram index (``icontains``). One
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
        ids = self._first_rows_by_code(queryset, value)
        if ids is not None:
            return queryset.filter(InIntegers(F("id"), ids))
        return queryset.filter(code__icontains=value)

    def _first_rows_by_code(self, queryset, term: str) -> list[int] | None:
        """The ids of the rows the requested page can show, read code by
        code: the codes that contain ``term`` are found in the code counts
        (CodeCounts, exact with every write; a few thousand distinct codes
        where every reseller numbers theirs alike), then the first
        page x page size rows of each, in the requested order, from that
        code's index range ((code, date, id) and its likes); the page is
        the same slice of their union as of all the matches. None, to search
        the rows instead: not PostgreSQL, not the list's request, another
        filter besides the search (the count then counts the rows), an
        order or page the list will refuse, more than
        ``MERGED_CODES`` codes or ``MERGED_ROWS`` rows to read.

        A code is unique per reseller only, so a common code stands for a
        purchase of every reseller: through the trigram index, the first
        page of "NF-000137" read all 50,000 of them at 10,000,000 purchases
        (0.3 s), and the first codes (the oldest purchases) newest first
        walked the date index through nearly all the table (34 s); here it
        reads 50 index entries per code."""
        request = self.request
        others = {name: value for name, value in self.form.cleaned_data.items() if name != "search"}
        if connection.vendor != "postgresql" or request is None or any(others.values()):
            return None
        ordering = request.query_params.get("ordering", "")
        page = request.query_params.get("page") or "1"
        try:
            page_size = PageNumberPagination().get_page_size(request)
        except ValidationError:
            return None
        if (ordering and ordering not in PURCHASE_ORDERINGS) or not is_ascii_integer(page) or int(page) < 1:
            return None
        rows = int(page) * page_size
        codes = CodeCounts.objects.filter(code__icontains=term, purchase_count__gt=0).values_list(
            "code", flat=True
        )
        codes = list(codes[: MERGED_CODES + 1])
        if len(codes) > MERGED_CODES or len(codes) * rows > MERGED_ROWS:
            return None
        first = (
            queryset.filter(code=OuterRef("code")).order_by(*purchase_ordering(ordering)).values("id")[:rows]
        )
        found = CodeCounts.objects.filter(code__in=codes).values_list(ArraySubquery(first), flat=True)
        return [pk for ids in found for pk in ids]
