from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request names none of the
    filterset's parameters (the first page of a list, mostly): building and
    validating a filterset's form for nothing costs more per request than the
    page's own query. With no parameter every filter is a no-op anyway."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not set(request.query_params) & set(filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)


class StableOrderingFilter(OrderingFilter):
    """Ordering with the id as the last tie-breaker, so pages never repeat or
    skip rows that share a value. The id runs in the direction of the last
    key, so one index on (key, id) serves both directions."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering.append("-id" if ordering[-1].startswith("-") else "id")
        return ordering
