"""Reads of resellers, and the one way to find a reseller by CPF.

The CPF is stored only encrypted (randomised ciphertext), so every lookup,
search and comparison goes through its blind index (``cpf.lookup_index``).
"""

from django.conf import settings
from django.db.models import Q, QuerySet

from resellers import cpf as cpf_codec
from resellers.models import Reseller


def reseller_list() -> QuerySet[Reseller]:
    return Reseller.objects.select_related("user")


def reseller_cpf_condition(term: object, *, lookup: str = "cpf_index") -> Q | None:
    """An exact-CPF match for a query: a valid CPF in either format becomes an
    equality on the blind index (``lookup`` names it from the queried model,
    e.g. ``reseller__cpf_index``); anything else, partial CPFs included, gives
    None. The ciphertext is never searched: it is randomised, so a LIKE on it
    could only leak timing."""
    try:
        return Q(**{lookup: cpf_codec.lookup_index(term)})
    except cpf_codec.InvalidCPF:
        return None


def reseller_get_by_cpf(*, cpf: object) -> Reseller | None:
    """The reseller with this CPF (either format), with its user; None when
    there is none or the value is not a CPF."""
    condition = reseller_cpf_condition(cpf)
    if condition is None:
        return None
    return reseller_list().filter(condition).first()


def reseller_has_cpf(*, reseller: Reseller, cpf: object) -> bool:
    """Whether this CPF (either format) is the reseller's, without decrypting."""
    try:
        return reseller.cpf_index == cpf_codec.lookup_index(cpf)
    except cpf_codec.InvalidCPF:
        return False


def reseller_cpf_taken(*, cpf_index: str, exclude_pk: int | None = None) -> bool:
    return Reseller.objects.filter(cpf_index=cpf_index).exclude(pk=exclude_pk).exists()


def reseller_search(queryset: QuerySet[Reseller], term: str) -> QuerySet[Reseller]:
    """Name or e-mail containing the term, or exactly this CPF (blind index)."""
    term = term.strip()
    if not term:
        return queryset
    condition = Q(user__full_name__icontains=term) | Q(user__email__icontains=term)
    if (cpf_condition := reseller_cpf_condition(term)) is not None:
        condition |= cpf_condition
    return queryset.filter(condition)


def auto_approved_cpf_indexes() -> frozenset[str]:
    """Blind indexes of ``CASHBACK_AUTO_APPROVED_CPFS`` (entries that are not
    valid CPFs are ignored)."""
    indexes = set()
    for value in settings.CASHBACK_AUTO_APPROVED_CPFS:
        try:
            indexes.add(cpf_codec.lookup_index(value))
        except cpf_codec.InvalidCPF:
            continue
    return frozenset(indexes)


def reseller_is_auto_approved(*, reseller: Reseller) -> bool:
    """Purchases of the resellers listed in ``CASHBACK_AUTO_APPROVED_CPFS``
    are approved on creation."""
    return reseller.cpf_index in auto_approved_cpf_indexes()
