from rest_framework.filters import OrderingFilter


class StableOrderingFilter(OrderingFilter):
    """Ordering with the id as the last tie-breaker, so pages never repeat or
    skip rows that share a value. The id runs in the direction of the last
    key, so one index on (key, id) serves both directions."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering.append("-id" if ordering[-1].startswith("-") else "id")
        return ordering
