import django_filters
from django.utils.translation import gettext_lazy as _

from core.filters import FilterSet
from resellers.models import Reseller
from resellers.selectors import reseller_search


class ResellerFilter(FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=254,
        label=_("Name or e-mail (contains), or exact CPF"),
    )

    class Meta:
        model = Reseller
        fields = ["search"]

    def filter_search(self, queryset, name, value):
        return reseller_search(queryset, value)
