import contextlib

from django.db.models import Q, QuerySet

from resellers import cpf as cpf_codec
from resellers.models import Reseller


def reseller_list() -> QuerySet[Reseller]:
    return Reseller.objects.select_related("user")


def reseller_search(queryset: QuerySet[Reseller], term: str) -> QuerySet[Reseller]:
    """Name or e-mail containing the term, or exactly this CPF (blind index)."""
    term = term.strip()
    if not term:
        return queryset
    condition = Q(user__full_name__icontains=term) | Q(user__email__icontains=term)
    with contextlib.suppress(cpf_codec.InvalidCPF):
        condition |= Q(cpf_index=cpf_codec.blind_index(cpf_codec.normalize(term)))
    return queryset.filter(condition)
