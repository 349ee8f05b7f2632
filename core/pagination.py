"""Pagination: ``page`` and ``page_size`` (default 20, at most 100).

``LargeTablePagination`` is for lists that can hold millions of rows: their
count may come from a short cache instead of a ``COUNT(*)`` per request, and
pages deeper than ``max_rows`` rows are refused with a 400 that asks to narrow
the filters (an ``OFFSET`` that deep reads and discards every row before it).
"""

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from core.cache import CachedAnswer
from core.parsing import is_ascii_integer

PAGE_SIZE_MESSAGE = _("Enter a page size from 1 to %(maximum)s.")
DEEP_PAGE_MESSAGE = _(
    "Pages beyond the first %(rows)s rows are not served: narrow the filters (e.g. month or dates)."
)


# From this many rows in, a page is read in two steps: its ids, in an
# index-only scan, then its rows by primary key. Below it one query is
# cheaper; past it the OFFSET walk over whole rows is what a page costs (a
# month ordered by value, page 10: 22 ms in one step, 11 ms in two; with a
# status too, 70 ms against 10 ms, at 1,000,000 purchases).
DEFERRED_JOIN_FROM = 200


def _rows_in_order(queryset, ids: list) -> list:
    """The rows of ``queryset`` with these primary keys, in the ids' order.
    Read by primary key without the ordering, so the plan is the primary
    key's index, whatever the filters and the order were."""
    rows = list(queryset.filter(pk__in=ids).order_by())
    if not rows:
        return rows
    attname = queryset.model._meta.pk.attname
    key = (lambda row: row[attname]) if isinstance(rows[0], dict) else (lambda row: row.pk)
    position = {pk: index for index, pk in enumerate(ids)}
    return sorted(rows, key=lambda row: position[key(row)])


class PageNumberPagination(pagination.PageNumberPagination):
    """``page`` (from 1; an empty value is the first page) and ``page_size``
    (1 to 100; empty: 20), as the schema states them. A page that is not a
    number or holds no rows is a 404, as DRF answers it; a page size out of
    bounds is a 400 (DRF would quietly serve another size)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    # DRF also takes ?page=last: a page is a number here, as documented.
    last_page_strings = ()

    def get_page_number(self, request, paginator):
        # The paginator takes int(), which reads Unicode digits ("\u0661" is 1):
        # only ASCII digits name a page; anything else is an invalid page (404).
        number = request.query_params.get(self.page_query_param) or 1
        if isinstance(number, str) and not is_ascii_integer(number):
            return "invalid"
        return number

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param, "")
        if value == "":
            return self.page_size
        if not is_ascii_integer(value) or not 1 <= int(value) <= self.max_page_size:
            message = PAGE_SIZE_MESSAGE % {"maximum": self.max_page_size}
            raise ValidationError({self.page_size_query_param: [message]}, code="invalid_page_size")
        return int(value)

    def get_schema_operation_parameters(self, view):
        bounds = {
            self.page_query_param: {"type": "integer", "minimum": 1},
            self.page_size_query_param: {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = bounds.get(parameter["name"], parameter["schema"])
        return parameters


def _counted_once_per_window(object_list, compute, *, refresh: bool = False, kind: str = "count") -> int:
    """``compute()``, kept for ``LIST_COUNT_CACHE_SECONDS`` under a key made
    from ``kind`` and the queryset's SQL (so per filter and per scope), or
    counted every time when that is 0. ``refresh`` counts afresh and keeps
    that count."""
    seconds = settings.LIST_COUNT_CACHE_SECONDS
    if seconds <= 0 or not hasattr(object_list, "query"):
        return compute()
    try:
        sql, params = object_list.query.sql_with_params()
    except EmptyResultSet:
        return 0  # ``none()`` (a filter that can match nothing) has no SQL, nor rows
    answer = CachedAnswer(kind, sql, params)
    if refresh:
        count = compute()
        answer.set(count, timeout=seconds)
        return count
    return answer.get_or_set(compute, timeout=seconds)


class _LargeTablePaginator(Paginator):
    def __init__(self, object_list, per_page, *, max_rows: int, cached_count: bool, known_count=None):
        super().__init__(object_list, per_page)
        self.max_rows, self.cached_count = max_rows, cached_count
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        known = self.known_count() if self.known_count is not None else None
        if known is not None:
            return known
        if self.cached_count:
            return _counted_once_per_window(self.object_list, lambda: Paginator.count.func(self))
        return super().count

    def page(self, number):
        # Unlike Django's, the slice does not stop at ``count``: a count served
        # from the cache may be a few seconds old, and must not cut rows off.
        # Checked first, so a refused page costs no query; and here, not in
        # validate_number, which the last page served calls about the next.
        try:
            requested = int(number)
        except (TypeError, ValueError):
            requested = None  # validate_number answers it
        if requested is not None and requested * self.per_page > self.max_rows:
            self.refuse_deep_page()
        number = self._page_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if bottom < DEFERRED_JOIN_FROM:
            rows = list(self.object_list[bottom:top])
        else:
            # A deep page: the OFFSET walks the ids alone (an index-only
            # scan), then the page's rows are read by id, in the same order.
            ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
            rows = _rows_in_order(self.object_list, ids)
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        if len(rows) < self.per_page and "count" not in self.__dict__:
            # A page that is not full is the last one: the rows before it and
            # on it are the count, exact and without counting (a reseller's
            # list of a month or a status often fits on a page or two).
            self.__dict__["count"] = bottom + len(rows)
        return self._get_page(rows, number, self)

    def _page_number(self, number) -> int:
        """Django's ``validate_number`` without the count: a page past the
        last is known by holding no rows."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    @property
    def deep_page_message(self) -> str:
        return DEEP_PAGE_MESSAGE % {"rows": number_format(self.max_rows, force_grouping=True)}

    def refuse_deep_page(self):
        raise ValidationError({"page": [self.deep_page_message]}, code="too_deep")

    def _get_page(self, *args, **kwargs):
        return _BoundedPage(*args, **kwargs)


class _BoundedPage(Page):
    def has_next(self) -> bool:
        # No "next" link to a page that would be refused.
        return super().has_next() and self.number * self.paginator.per_page < self.paginator.max_rows


class LargeTablePagination(PageNumberPagination):
    """For lists that can hold millions of rows: pages deeper than
    ``max_rows`` rows are refused, deep pages walk the ids alone first.

    A view that can tell the count without counting rows (from a figure
    maintained with every write) says so in ``get_known_count()``: an int,
    or None to count as usual; it is asked only when the count is needed."""

    max_rows = 10_000
    cached_count = False

    def paginate_queryset(self, queryset, request, view=None):
        self.known_count = getattr(view, "get_known_count", None)
        return super().paginate_queryset(queryset, request, view)

    def django_paginator_class(self, object_list, per_page):
        return _LargeTablePaginator(
            object_list,
            per_page,
            max_rows=self.max_rows,
            cached_count=self.cached_count,
            known_count=getattr(self, "known_count", None),
        )


class CachedCountLargeTablePagination(LargeTablePagination):
    """A large table whose count may be ``LIST_COUNT_CACHE_SECONDS`` old:
    counted once per window for each filter, not on every page."""

    cached_count = True


def count_up_to(object_list, limit: int) -> int:
    """How many rows ``object_list`` has, counting ``limit`` at most: the
    rows are read until that many are found (``SELECT COUNT(*) FROM (SELECT
    ... LIMIT n)``), in whatever order the database finds cheapest."""
    if hasattr(object_list, "query"):
        return object_list.order_by()[:limit].count()
    return min(len(object_list), limit)


def lists_whole_table(queryset) -> bool:
    """Whether ``queryset`` is every row of its table: no filter, no
    DISTINCT, no slice (joins to a parent row, select_related's, keep the
    number of rows)."""
    query = getattr(queryset, "query", None)
    return query is not None and not (query.where or query.distinct or query.combinator or query.is_sliced)


def estimated_rows(queryset) -> int | None:
    """The number of rows of the queryset's table, as PostgreSQL's planner
    estimates it (``pg_class.reltuples``, kept by ANALYZE and autovacuum: no
    row is read); None when the database keeps no estimate."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return None if row is None or row[0] is None or row[0] < 0 else int(row[0])


def rounded(number: int, digits: int = 2) -> int:
    """``number`` to its first ``digits`` significant digits: an estimate
    shown as 10,000,000, not 10,001,135."""
    if number <= 0:
        return number
    scale = 10 ** max(len(str(number)) - digits, 0)
    return round(number / scale) * scale


class CachedCountPaginator(_LargeTablePaginator):
    """For the admin's changelists of large tables, as
    ``CachedCountLargeTablePagination``: paging through (or reloading) a
    million rows counts them once every few seconds, not on every page; no
    page deeper than ``max_rows`` rows is offered (the page links stop
    there) or served (``BoundedChangeList`` answers a deeper ``?p=`` with
    the last page offered and a message asking to narrow the filters); deep
    pages walk the ids alone first. ``fresh_count`` (set by the admin after
    a bulk action) counts afresh.

    Since no page lies past ``max_rows`` rows, the count stops one row past
    them (``count_up_to``): ``count`` is exact up to ``max_rows`` and
    ``max_rows + 1`` when there are more (``over_bound``), which the list
    shows as "more than 10,000" (or, for a whole table, the planner's
    estimate, ``estimated_total``). An exact count of 10,000,000 purchases
    read every one of them (0.7-1.5 s); this one reads 10,001 rows at most.
    """

    fresh_count = False
    # Some of the list's rows, counted first when given (the purchases'
    # search sets it to the purchases of the first resellers it found, an
    # index-only count): when they alone pass ``max_rows``, so does the list,
    # which then is not counted (its search's OR reads every row's code).
    count_floor = None

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True):
        Paginator.__init__(self, object_list, per_page, orphans, allow_empty_first_page)
        self.max_rows, self.cached_count = LargeTablePagination.max_rows, True

    @cached_property
    def num_pages(self) -> int:
        return min(Paginator.num_pages.func(self), self.last_page_offered)

    @property
    def last_page_offered(self) -> int:
        return max(1, self.max_rows // self.per_page)

    def refuse_deep_page(self):
        raise EmptyPage(self.deep_page_message)

    @cached_property
    def count(self) -> int:
        limit = self.max_rows + 1

        def compute() -> int:
            if self.count_floor is not None and count_up_to(self.count_floor, limit) >= limit:
                return limit
            return count_up_to(self.object_list, limit)

        return _counted_once_per_window(
            self.object_list,
            compute,
            refresh=self.fresh_count,
            kind=f"count-up-to:{limit}",
        )

    @property
    def over_bound(self) -> bool:
        """More rows than ``max_rows``: ``count`` stopped counting."""
        return self.count > self.max_rows

    @cached_property
    def estimated_total(self) -> int | None:
        """Over the bound and listing a whole table: about how many rows it
        has (two significant digits of the planner's estimate); else None."""
        if not self.over_bound or not lists_whole_table(self.object_list):
            return None
        estimate = estimated_rows(self.object_list)
        return rounded(estimate) if estimate is not None and estimate > self.max_rows else None


class DeferredJoinPaginator(Paginator):
    """Django's paginator (the exact count, every page offered) whose deep
    pages walk the ids alone first, as the large tables' do: for the admin's
    lists of tens of thousands of rows (users, resellers), which a COUNT
    reads in milliseconds but whose last pages, read whole and joined, read
    and joined every row before them too (the resellers' page 500 of 50,000:
    0.7-1.5 s)."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if bottom < DEFERRED_JOIN_FROM or not hasattr(self.object_list, "values_list"):
            return self._get_page(self.object_list[bottom:top], number, self)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        return self._get_page(_rows_in_order(self.object_list, ids), number, self)
