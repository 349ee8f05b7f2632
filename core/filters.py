import functools

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters
from rest_framework.exceptions import ValidationError

UNKNOWN_ORDERING_MESSAGE = _("Unknown ordering. Use one of: %(allowed)s.")


class FilterSet(django_filters.FilterSet):
    """django-filter's, with its form class made once per filterset class.
    django-filter makes a new form class, and a new field for each filter,
    for every filterset it builds (every request that filters); here the
    fields depend only on the filterset's class, and each form copies them
    as any Django form does. A fifth of what filtering a list costs."""

    @classmethod
    @functools.cache
    def form_class(cls):
        fields = {name: filter_.field for name, filter_ in cls.base_filters.items()}
        return type(f"{cls.__name__}Form", (cls._meta.form,), fields)

    def get_form_class(self):
        return self.form_class()


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request names none of the
    filterset's parameters (the first page of a list, mostly): building and
    validating a filterset's form for nothing costs more per request than the
    page's own query. With no parameter every filter is a no-op anyway.

    The filterset used is kept as ``view.filterset`` (None when skipped), as
    django-filter's own FilterView keeps it, for a view that reads the
    cleaned filters (e.g. to count from a maintained figure)."""

    def filter_queryset(self, request, queryset, view):
        view.filterset = None
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not set(request.query_params) & set(filterset_class.base_filters):
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        view.filterset = filterset
        return filterset.qs


class OrderingFilter(filters.OrderingFilter):
    """``?ordering=``: one of the view's ``ordering_fields``, ascending or
    descending (``-``); the schema lists them (an enum). Anything else is a
    400 that lists them too (DRF would quietly keep the default order); an
    empty value is the default order."""

    def allowed(self, view) -> list[str]:
        return [f"{sign}{field}" for field in view.ordering_fields for sign in ("", "-")]

    def get_ordering(self, request, queryset, view):
        value = request.query_params.get(self.ordering_param, "")
        if value == "":
            return self.get_default_ordering(view)
        allowed = self.allowed(view)
        if value not in allowed:
            message = UNKNOWN_ORDERING_MESSAGE % {"allowed": ", ".join(allowed)}
            raise ValidationError({self.ordering_param: [message]}, code="invalid_ordering")
        return [value]

    def get_schema_operation_parameters(self, view):
        (parameter,) = super().get_schema_operation_parameters(view)
        return [{**parameter, "schema": {"type": "string", "enum": self.allowed(view)}}]


class StableOrderingFilter(OrderingFilter):
    """Ordering with the id as the last tie-breaker, so pages never repeat or
    skip rows that share a value. The id runs in the direction of the last
    key, so one index on (key, id) serves both directions."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering.append("-id" if ordering[-1].startswith("-") else "id")
        return ordering
