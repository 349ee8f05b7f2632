"""Reads: permission-scoped purchase querysets, month summaries, the ledger."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import connections
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import get_reseller
from purchases import cashback
from purchases.models import CashbackPolicy, CodeCounts, DayCounts, MonthlyCashback, Purchase, PurchaseItem
from purchases.months import current_month, month_start, next_month
from resellers.models import Reseller
from resellers.selectors import reseller_get_by_cpf, reseller_has_cpf

FOREIGN_CPF_MESSAGE = _("Resellers can only record their own purchases.")
UNKNOWN_CPF_MESSAGE = _("No reseller has this CPF.")
CPF_REQUIRED_MESSAGE = _("Send the CPF of the reseller who made the purchase.")


def purchase_list(*, user: User) -> QuerySet[Purchase]:
    """The purchases this user may see: staff all, a reseller their own,
    anyone else none. The base of list and detail alike, so another
    reseller's purchase is simply not found. No joins: ``purchase_rows``
    reads what the answer shows."""
    if user.is_staff:
        return Purchase.objects.all()
    reseller = get_reseller(user)
    if reseller is None:
        return Purchase.objects.none()
    return Purchase.objects.filter(reseller_id=reseller.pk)


def purchase_count_from_figures(*, filters: Mapping[str, object]) -> int | None:
    """How many purchases of everyone's (the staff's list) match ``filters``
    (a list's cleaned filters), read from the day counts when they are a
    month, dates, a status, any of these together or none: DayCounts holds
    each day's count per status, written in the transaction of every
    purchase write, so the answer is exact and costs a few hundred rows at
    most, where a COUNT read every matching row (15-70 ms at 1,000,000
    purchases, 0.6-4 s for a range of dates at 10,000,000). A search alone
    sums the code counts of the codes that contain the term (CodeCounts,
    kept the same way): a fragment every reseller's codes share ("NF-0001")
    matches a twentieth of the table, and counting those rows grows with
    it. None for any other combination (a reseller, a search with another
    filter): the rows must say."""
    used = {name for name, value in filters.items() if value not in (None, "")}
    if used == {"search"}:
        counts = CodeCounts.objects.filter(code__icontains=filters["search"])
        return counts.aggregate(total=Sum("purchase_count"))["total"] or 0
    if not used <= {"month", "date_from", "date_to", "status"}:
        return None
    days = DayCounts.objects.all()
    if month := filters.get("month"):
        days = days.filter(date__gte=month_start(month), date__lt=next_month(month_start(month)))
    if date_from := filters.get("date_from"):
        days = days.filter(date__gte=date_from)
    if date_to := filters.get("date_to"):
        days = days.filter(date__lte=date_to)
    statuses = [filters["status"]] if filters.get("status") else list(Purchase.Status.values)
    counts = days.aggregate(**{status: Sum(f"{status}_count") for status in statuses})
    return sum(count or 0 for count in counts.values())


# The columns a purchase's answer shows, read without joins: the page's
# items and, for staff, the names of its people come in one batched query
# each, so that a list pages and counts the same plain queryset.
_COLUMNS = (
    "id",
    "code",
    "value",
    "date",
    "status",
    "cashback_percent",
    "cashback_value",
    "reviewed_at",
    "rejection_reason",
    "created_at",
    "updated_at",
)
_STAFF_COLUMNS = (*_COLUMNS, "reseller_id", "reviewed_by_id")

# Built once (the columns, the join and the order); each page adds its ids.
_ITEM_ROWS = PurchaseItem.objects.order_by("purchase_id", "id").values_list(
    "purchase_id", "product_id", "product__sku", "product__name", "quantity", "unit_price"
)


def purchase_columns(purchases: QuerySet[Purchase], *, staff: bool) -> QuerySet:
    """The purchases' own columns, as dicts: the rows a list pages through,
    completed by ``purchase_rows_complete``."""
    return purchases.values(*(_STAFF_COLUMNS if staff else _COLUMNS))


def purchase_rows_complete(rows: list[dict], *, staff: bool) -> list[dict]:
    """Rows of ``purchase_columns`` made into the rows
    ``PurchaseOutputSerializer`` (staff: ``StaffPurchaseOutputSerializer``)
    writes: the status's name, the items (one query for any number of rows)
    and, for staff, whose purchase it is and who reviewed it (one more)."""
    if not rows:
        return rows
    items: dict[int, list[dict]] = {row["id"]: [] for row in rows}
    for purchase_id, product_id, sku, name, quantity, unit_price in _ITEM_ROWS.filter(
        purchase_id__in=list(items)
    ):
        items[purchase_id].append(
            {
                "product": product_id,
                "sku": sku,
                "name": name,
                "quantity": quantity,
                "unit_price": unit_price,
                "total": unit_price * quantity,
            }
        )
    labels = {value: str(label) for value, label in Purchase.Status.choices}
    for row in rows:
        row["status_display"] = labels[row["status"]]
        row["items"] = items[row["id"]]
    if staff:
        _add_people(rows)
    return rows


def _add_people(rows: list[dict]) -> None:
    reseller_ids = {row["reseller_id"] for row in rows}
    reviewer_ids = {row["reviewed_by_id"] for row in rows} - {None}
    # Two lookups by primary key in one statement: an OR across the join
    # (resellers' users or reviewers) read both tables whole instead, 5 ms
    # at 5,000 resellers and ten times that at 50,000.
    people = (
        Reseller.objects.filter(pk__in=reseller_ids)
        .order_by()
        .values_list(Value("reseller"), "pk", "user__full_name")
    )
    if reviewer_ids:
        people = people.union(
            User.objects.filter(pk__in=reviewer_ids).order_by().values_list(Value("reviewer"), "pk", "email"),
            all=True,
        )
    names: dict[int, str] = {}
    emails: dict[int, str] = {}
    for kind, pk, text in people:
        (names if kind == "reseller" else emails)[pk] = text
    for row in rows:
        reseller_id = row.pop("reseller_id")
        reviewer_id = row.pop("reviewed_by_id")
        row["reseller"] = {"id": reseller_id, "full_name": names[reseller_id]}
        row["reviewed_by"] = emails.get(reviewer_id) if reviewer_id is not None else None


def purchase_rows(purchases: QuerySet[Purchase], *, staff: bool) -> list[dict]:
    """The output rows of these purchases (the detail, the answers of writes)."""
    return purchase_rows_complete(list(purchase_columns(purchases, staff=staff)), staff=staff)


def purchase_owner_get(*, user: User, cpf: str | None) -> Reseller:
    """Whose purchase ``user`` is recording, given the CPF sent (or None).

    A reseller records only their own purchases: without a CPF, or with
    their own. Any other CPF is refused whether or not it exists, so the
    route cannot be used to probe for registered CPFs. Staff record for any
    registered CPF and must send one."""
    own = get_reseller(user)
    if cpf is None:
        if own is None:
            raise ValidationError({"cpf": [CPF_REQUIRED_MESSAGE]}, code="required")
        return own
    if own is not None and reseller_has_cpf(reseller=own, cpf=cpf):
        return own
    if not user.is_staff:
        raise PermissionDenied(FOREIGN_CPF_MESSAGE)
    reseller = reseller_get_by_cpf(cpf=cpf)
    if reseller is None:
        raise ValidationError({"cpf": [UNKNOWN_CPF_MESSAGE]}, code="unknown_cpf")
    return reseller


def cashback_policy_get(*, month: date) -> CashbackPolicy:
    """The policy in force on the month's first day."""
    policy = (
        CashbackPolicy.objects.filter(effective_from__lte=month_start(month))
        .prefetch_related("tiers")
        .order_by("-effective_from")
        .first()
    )
    if policy is None:
        raise ImproperlyConfigured(f"No cashback policy covers {month:%Y-%m}.")
    return policy


POLICY_CACHE_SECONDS = 3600


def cashback_tiers_get(*, month: date) -> tuple[int, tuple[cashback.Tier, ...]]:
    """(id, tiers) of the policy in force in ``month``, cached for months that
    have begun: the policy of such a month never changes (the admin only adds
    or edits policies of future months, and keeps those in force read-only)."""
    start = month_start(month)
    cacheable = start <= current_month()
    key = f"cashback-policy:{start:%Y-%m}"
    if cacheable and (cached := cache.get(key)) is not None:
        return cached
    policy = cashback_policy_get(month=start)
    answer = (policy.pk, policy.as_tiers())
    if cacheable:
        cache.set(key, answer, timeout=POLICY_CACHE_SECONDS)
    return answer


@dataclass(frozen=True)
class MonthSummary:
    month: date
    total_value: Decimal
    purchase_count: int
    cashback_percent: Decimal
    cashback_value: Decimal
    next_tier: cashback.NextTier | None


def month_summary_get(*, reseller: Reseller, month: date) -> MonthSummary:
    """The reseller's month: non-rejected total and count, the tier reached,
    the cashback earned, and what is missing to reach the next tier."""
    month = month_start(month)
    row = (
        MonthlyCashback.objects.filter(reseller=reseller, month=month)
        .only("total_value", "purchase_count", "cashback_percent", "cashback_value")
        .first()
    )
    # The row was computed with the policy in force in the month, which is
    # the one cashback_tiers_get answers (from the cache for begun months).
    _policy_id, tiers = cashback_tiers_get(month=month)
    total = row.total_value if row else cashback.ZERO
    return MonthSummary(
        month=month,
        total_value=total,
        purchase_count=row.purchase_count if row else 0,
        cashback_percent=row.cashback_percent if row else cashback.percent_for_total(total, tiers),
        cashback_value=row.cashback_value if row else cashback.ZERO,
        next_tier=cashback.next_tier(total, tiers),
    )


def local_ledger_get(*, reseller: Reseller) -> Decimal:
    """Accumulated cashback known locally: the cashback of approved purchases."""
    total = Purchase.objects.filter(reseller=reseller, status=Purchase.Status.APPROVED).aggregate(
        total=Sum("cashback_value")
    )["total"]
    return (total or cashback.ZERO).quantize(cashback.CENT)


def resellers_credit_due(*, active_since: date, checked_before: datetime, limit: int) -> list[int]:
    """Ids of resellers with a purchase dated since ``active_since`` whose
    brand credit was never refreshed or not since ``checked_before``, the
    longest unrefreshed first (a failed refresh counts as one, so resellers
    the brand does not know never hold up the others)."""
    active = Purchase.objects.filter(reseller=OuterRef("pk"), date__gte=active_since)
    return list(
        Reseller.objects.filter(Exists(active))
        .filter(Q(cashback_credit__isnull=True) | Q(cashback_credit__checked_at__lt=checked_before))
        .order_by(F("cashback_credit__checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )


def cashback_months_get(*, limit: int) -> list[date]:
    """The latest ``limit`` months with a month aggregate (MonthlyCashback),
    newest first. Each is read from the (month, total) index as "the latest
    month before the previous one", a few index probes: a DISTINCT over the
    aggregates read all their rows (580,000 at 10,000,000 purchases: 80-400
    ms on every purchase list, for its month filter)."""
    connection = connections[MonthlyCashback.objects.db]
    table = connection.ops.quote_name(MonthlyCashback._meta.db_table)
    sql = f"""
        WITH RECURSIVE months(month) AS (
            SELECT MAX(month) FROM {table}
            UNION ALL
            SELECT (SELECT MAX(earlier.month) FROM {table} earlier WHERE earlier.month < months.month)
            FROM months WHERE months.month IS NOT NULL
        )
        SELECT month FROM months WHERE month IS NOT NULL LIMIT %s
    """  # noqa: S608 (the table's name, quoted; the limit a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        rows = cursor.fetchall()
    # SQLite hands dates back as text.
    return [month if isinstance(month, date) else date.fromisoformat(month) for (month,) in rows]
