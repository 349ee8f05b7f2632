"""Pagination: ``page`` and ``page_size`` (default 20, at most 100).

``LargeTablePagination`` is for lists that can hold millions of rows: their
count may come from a short cache instead of a ``COUNT(*)`` per request, and
pages deeper than ``max_rows`` rows are refused with a 400 that asks to narrow
the filters (an ``OFFSET`` that deep reads and discards every row before it).
"""

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from config.cache import CachedAnswer
from config.parsing import is_ascii_integer

PAGE_SIZE_MESSAGE = _("Enter a page size from 1 to %(maximum)s.")
DEEP_PAGE_MESSAGE = _(
    "Pages beyond the first %(rows)s rows are not served: narrow the filters (e.g. month or dates)."
)


# From this many rows in, a page is read in two steps (ids, then rows).
DEFERRED_JOIN_FROM = 1_000


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


def _cached_count(answer, seconds: int, compute) -> int:
    """``compute()``, kept in ``answer`` (config.cache's ``CachedAnswer`` or
    ``VersionedAnswer``) for ``seconds`` (0: never kept)."""
    if seconds <= 0:
        return compute()
    count = answer.get()
    if count is None:
        count = compute()
        answer.set(count, timeout=seconds)
    return count


class _LargeTablePaginator(Paginator):
    def __init__(
        self,
        object_list,
        per_page,
        *,
        max_rows: int,
        count_answer,
        count_seconds: int,
        count_queryset,
    ):
        super().__init__(object_list, per_page)
        self.max_rows, self.count_answer, self.count_seconds = max_rows, count_answer, count_seconds
        self.count_queryset = count_queryset

    def _count(self) -> int:
        if self.count_queryset is not None:
            return self.count_queryset.count()
        return super().count

    @cached_property
    def count(self) -> int:
        if self.count_answer is None:
            return self._count()
        return _cached_count(self.count_answer, self.count_seconds, self._count)

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
            message = DEEP_PAGE_MESSAGE % {"rows": number_format(self.max_rows, force_grouping=True)}
            raise ValidationError({"page": [message]}, code="too_deep")
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if bottom < DEFERRED_JOIN_FROM:
            return self._get_page(self.object_list[bottom:top], number, self)
        # A deep page: the OFFSET walks the ids alone (an index-only scan),
        # then the page's rows are read by id, in the same order.
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        return self._get_page(list(self.object_list.filter(pk__in=ids)), number, self)

    def _get_page(self, *args, **kwargs):
        return _BoundedPage(*args, **kwargs)


class _BoundedPage(Page):
    def has_next(self) -> bool:
        # No "next" link to a page that would be refused.
        return super().has_next() and self.number * self.paginator.per_page < self.paginator.max_rows


class LargeTablePagination(PageNumberPagination):
    """The view may set, per request, ``count_answer``: where the count is
    kept (a ``CachedAnswer``, which may be ``LIST_COUNT_CACHE_SECONDS`` old,
    or a ``VersionedAnswer``, exact), for ``count_seconds``; without it the
    count is exact, counted every time. It may also set ``count_queryset``:
    what to count when the paginated rows carry joins a count does not
    need."""

    max_rows = 10_000
    count_answer = None
    count_seconds = 0
    count_queryset = None

    def django_paginator_class(self, object_list, per_page):
        return _LargeTablePaginator(
            object_list,
            per_page,
            max_rows=self.max_rows,
            count_answer=self.count_answer,
            count_seconds=self.count_seconds,
            count_queryset=self.count_queryset,
        )


class CachedCountPaginator(Paginator):
    """For the admin's changelists of large tables: the count of a filtered
    queryset is kept for ``LIST_COUNT_CACHE_SECONDS`` under a key made from
    its SQL, so paging through (or reloading) a million rows counts them once
    every few seconds, not on every page."""

    @cached_property
    def count(self) -> int:
        if not hasattr(self.object_list, "query"):
            return super().count
        try:
            sql, params = self.object_list.query.sql_with_params()
        except EmptyResultSet:
            return 0  # ``none()`` (a filter that can match nothing) has no SQL, nor rows
        answer = CachedAnswer("count", sql, params)
        return _cached_count(answer, settings.LIST_COUNT_CACHE_SECONDS, self._count_rows)

    def _count_rows(self) -> int:
        return super().count
