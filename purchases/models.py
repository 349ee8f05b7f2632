import functools
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from purchases import cashback
from purchases.months import FIRST_MONTH, current_month

MAX_PURCHASE_VALUE = Decimal("1000000.00")
FUTURE_DATE_MESSAGE = _("The purchase date cannot be in the future.")
TOO_OLD_DATE_MESSAGE = _("The purchase date cannot be before 2000-01-01.")
CODE_FORMAT_MESSAGE = _("Use 1 to 64 letters, digits, '-' or '_'.")

# The staff's permissions beyond a model's view/add/change/delete (declared in
# Purchase.Meta.permissions), checked by the admin and the API alike.
REVIEW_PERMISSION = "purchases.review_purchase"
ANALYTICS_PERMISSION = "purchases.view_analytics"


def format_brl(value: Decimal) -> str:
    """1202.14 -> "R$ 1.202,14" (in English "R$ 1,202.14"): for people; the
    API and CSV files keep "1202.14"."""
    return "R$ " + formats.number_format(value, 2, use_l10n=True, force_grouping=True)


def format_percent(value: Decimal) -> str:
    """15.00 -> "15%", 12.50 -> "12,5%" (in English "12.5%")."""
    places = 2
    while places and value == round(value, places - 1):
        places -= 1
    return formats.number_format(value, places, use_l10n=True) + "%"


def format_month_name(month: date) -> str:
    """date(2026, 11, 1) -> "Novembro de 2026" ("November 2026" in English)."""
    return formats.date_format(month, "YEAR_MONTH_FORMAT")


@functools.lru_cache(maxsize=4096)
def _short_date(day: date, language: str | None) -> str:
    # Formatting a date costs a fifth of a millisecond: a bulk review's
    # history names hundreds of purchases of a few dates per chunk.
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def validate_purchase_date(value: date) -> None:
    # "Today" is the business day in America/Sao_Paulo (TIME_ZONE).
    if value > timezone.localdate():
        raise ValidationError(FUTURE_DATE_MESSAGE, code="future_date")
    if value < FIRST_MONTH:
        raise ValidationError(TOO_OLD_DATE_MESSAGE, code="too_old")


class CashbackPolicy(models.Model):
    """Cashback tiers in force from a month on. A month uses the policy in
    force on its first day; policies already in force are never edited, so a
    change never rewrites a past month."""

    effective_from = models.DateField(
        _("effective from"), unique=True, help_text=_("First day of the first month it applies to.")
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("cashback policy")
        verbose_name_plural = _("cashback policies")
        ordering = ["-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_from__day=1), name="purchases_policy_starts_on_first_day"
            ),
        ]

    def __str__(self) -> str:
        start = format_month_name(self.effective_from) if self.effective_from else ""
        return start + (f" — {self.description}" if self.description else "")

    @property
    def is_in_force(self) -> bool:
        """Already applies to the current (or a past) month: read-only."""
        return self.effective_from is not None and self.effective_from <= current_month()

    def as_tiers(self) -> tuple[cashback.Tier, ...]:
        tiers = sorted(self.tiers.all(), key=lambda tier: (tier.up_to is None, tier.up_to or 0))
        return tuple(cashback.Tier(up_to=tier.up_to, percent=tier.percent) for tier in tiers)


class CashbackTier(models.Model):
    policy = models.ForeignKey(
        CashbackPolicy, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("policy")
    )
    up_to = models.DecimalField(
        _("monthly total up to"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Inclusive upper bound of the month's total; empty for the last, open-ended tier."),
    )
    percent = models.DecimalField(
        _("percent"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )

    class Meta:
        verbose_name = _("cashback tier")
        verbose_name_plural = _("cashback tiers")
        ordering = ["policy", models.F("up_to").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(fields=["policy", "up_to"], name="purchases_tier_unique_bound"),
            models.UniqueConstraint(
                fields=["policy"],
                condition=Q(up_to__isnull=True),
                name="purchases_tier_one_open_ended",
            ),
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="purchases_tier_percent_range"
            ),
            models.CheckConstraint(
                condition=Q(up_to__isnull=True) | Q(up_to__gt=0), name="purchases_tier_bound_positive"
            ),
        ]

    def __str__(self) -> str:
        # "≤ R$ 1.000,00: 10%": shown in the policy admin's list.
        bound = f"≤ {format_brl(self.up_to)}" if self.up_to is not None else gettext("no limit")
        return f"{bound}: {format_percent(self.percent)}" if self.percent is not None else bound


class Purchase(models.Model):
    class Status(models.TextChoices):
        VALIDATING = "validating", _("In validation")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    reseller = models.ForeignKey(
        "resellers.Reseller",
        on_delete=models.PROTECT,
        related_name="purchases",
        verbose_name=_("reseller"),
        db_index=False,  # led by purchases_reseller_date_id_idx and the (reseller, code) constraint
    )
    code = models.CharField(
        _("code"),
        max_length=64,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]{1,64}$", CODE_FORMAT_MESSAGE, code="invalid_code")],
    )
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_PURCHASE_VALUE)],
    )
    date = models.DateField(_("date"), validators=[validate_purchase_date])
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.VALIDATING)
    # Derived from the month's total by services.monthly_cashback_recalculate (the only
    # writer), so lists and analytics read them instead of recomputing tiers.
    cashback_percent = models.DecimalField(
        _("cashback percent"), max_digits=5, decimal_places=2, default=Decimal("0.00"), editable=False
    )
    cashback_value = models.DecimalField(
        _("cashback value"), max_digits=12, decimal_places=2, default=Decimal("0.00"), editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
        # Its index is purchases_reviewer_date_id_idx (below), which also
        # serves the key's own lookups (a reviewer deleted).
        db_index=False,
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-date", "-id"]
        permissions = [
            ("review_purchase", gettext_noop("Can review (approve or reject) purchase")),
            # Analytics has no model of its own: its reads are of purchases.
            ("view_analytics", gettext_noop("Can view cashback analytics")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "code"], name="purchases_code_unique_per_reseller"),
            models.CheckConstraint(
                condition=Q(value__gt=0) & Q(value__lte=MAX_PURCHASE_VALUE), name="purchases_value_range"
            ),
            models.CheckConstraint(condition=Q(date__gte=FIRST_MONTH), name="purchases_date_from_2000"),
            models.CheckConstraint(
                condition=Q(status__in=["validating", "approved", "rejected"]), name="purchases_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="purchases_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(cashback_percent__gte=0) & Q(cashback_percent__lte=100),
                name="purchases_cashback_percent_range",
            ),
        ]
        # One per order the list serves (read backwards for descending
        # orders; the id is the tie-breaker of every ordering), so a page is
        # an index range scan with a LIMIT, never a sort of the table.
        indexes = [
            models.Index(fields=["reseller", "date", "id"], name="purchases_reseller_date_id_idx"),
            # A reseller's list in its other orders: a range of their rows, not
            # a walk of everyone's by value filtering on the reseller (the
            # busiest reseller's page by value: 34 ms, 22,000 rows read).
            models.Index(fields=["reseller", "value", "id"], name="purchases_res_value_id_idx"),
            models.Index(fields=["reseller", "created_at", "id"], name="purchases_res_created_id_idx"),
            # The default order, carrying the columns of the filters no other
            # index serves in it (a value range, the search's resellers and
            # code): their deep pages walk this index alone, not each row on
            # the table (page 100 of a value range at 10,000,000 purchases:
            # 28 ms, 390 ms before; of the search "maria": 47 ms, 430 ms).
            models.Index(
                fields=["date", "id"],
                include=["value", "reseller", "code"],
                name="purchases_date_id_cover_idx",
            ),
            # The other orderings carry the filters' columns (PostgreSQL's
            # INCLUDE): a month or a status ordered by value or creation is
            # filtered in an index-only scan, not row by row on the heap.
            models.Index(
                fields=["value", "id"], include=["date", "status"], name="purchases_value_id_cover_idx"
            ),
            models.Index(
                fields=["created_at", "id"], include=["date", "status"], name="purchases_created_id_cover_idx"
            ),
            # The status filter in the default order (bench/EXPLAIN.md); also the
            # purchases waiting for a review: their count (the admin's home) and
            # their list ("?status=validating", the next pending) are range scans.
            models.Index(fields=["status", "date", "id"], name="purchases_status_date_id_idx"),
            # A status (and a month of it) in the other orders: the status's
            # range, the month filtered in the index. Through the indexes
            # above, a month's rejected purchases by value were a sort of all
            # of them (page 100 at 10,000,000 purchases: 2.8 s, growing with
            # the month); here page 100 reads 5,000 of the month's entries
            # and those of the other months between them, the same at any size.
            models.Index(
                fields=["status", "value", "id"], include=["date"], name="purchases_st_value_id_idx"
            ),
            models.Index(
                fields=["status", "created_at", "id"],
                include=["date"],
                name="purchases_st_created_id_idx",
            ),
            # One code in each order: the staff's search reads the first rows
            # of each code that contains the term, merged (PurchaseFilter).
            # A code is unique per reseller only, so a common one has a
            # purchase of every reseller, and through the indexes above its
            # first page read every one of them (50,000 at 10,000,000
            # purchases: 0.3 s) or walked the order until it found them (the
            # first codes, the oldest purchases, by the newest first: 34 s).
            models.Index(fields=["code", "date", "id"], name="purchases_code_date_id_idx"),
            models.Index(fields=["code", "value", "id"], name="purchases_code_value_id_idx"),
            models.Index(fields=["code", "created_at", "id"], name="purchases_code_created_id_idx"),
            # The reviewer filter in the default order: its pages, however
            # deep, are index-only ranges (page 100 of 7,000,000 reviews: 2 ms,
            # against 200 ms filtering the date index's rows on the table).
            # Reviewed purchases only: no one lists the others by reviewer.
            models.Index(
                fields=["reviewed_by", "date", "id"],
                condition=Q(reviewed_by__isnull=False),
                name="purchases_reviewer_date_id_idx",
            ),
        ]

    def __str__(self) -> str:
        # The admin's titles and messages: "NF-1 (02/12/2026)" in Portuguese.
        return f"{self.code} ({_short_date(self.date, get_language())})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.VALIDATING


class PurchaseItem(models.Model):
    purchase = models.ForeignKey(
        Purchase, on_delete=models.CASCADE, related_name="items", verbose_name=_("purchase")
    )
    product = models.ForeignKey(
        "products.Product",
        on_delete=models.PROTECT,
        related_name="purchase_items",
        verbose_name=_("product"),
    )
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        _("unit price"),
        max_digits=12,
        decimal_places=2,
        help_text=_("Catalogue price when the purchase was recorded."),
    )

    class Meta:
        verbose_name = _("purchase item")
        verbose_name_plural = _("purchase items")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["purchase", "product"], name="purchases_item_product_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="purchases_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="purchases_item_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


class MonthlyCashback(models.Model):
    """One reseller's month: the total of non-rejected purchases, the tier it
    reached and the cashback it earns. Maintained by
    services.monthly_cashback_recalculate together with the purchases' own columns, so
    summaries and analytics are single aggregate queries."""

    reseller = models.ForeignKey(
        "resellers.Reseller",
        on_delete=models.CASCADE,
        related_name="monthly_cashback",
        verbose_name=_("reseller"),
    )
    month = models.DateField(_("month"))
    policy = models.ForeignKey(CashbackPolicy, on_delete=models.PROTECT, related_name="+")
    total_value = models.DecimalField(_("total value"), max_digits=14, decimal_places=2)
    purchase_count = models.PositiveIntegerField(_("purchases"))
    cashback_percent = models.DecimalField(_("cashback percent"), max_digits=5, decimal_places=2)
    cashback_value = models.DecimalField(_("cashback value"), max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("monthly cashback")
        verbose_name_plural = _("monthly cashback")
        ordering = ["-month", "-total_value"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "month"], name="purchases_monthly_unique"),
            models.CheckConstraint(condition=Q(month__day=1), name="purchases_monthly_first_day"),
        ]
        indexes = [models.Index(fields=["month", "-total_value"], name="purchases_monthly_rank_idx")]

    def __str__(self) -> str:
        return f"{self.reseller_id} {self.month:%Y-%m}: {self.cashback_percent}%"


# --- Analytics figures ----------------------------------------------------------
# Sums over the purchase rows that the staff analytics read instead of the
# rows: maintained by the purchase services in the transaction of each write
# (purchases.analytics.services applies their changes as increments), built
# in bulk by the seed and the migration, and rebuilt from the rows by
# ``manage.py rebuild_analytics``. Counters, not business rules: no check
# constraints, so figures that drifted (rows written around the services)
# never block a purchase write; the rebuild puts them right.
FIGURE_MONEY = {"max_digits": 18, "decimal_places": 2}


class MonthTotals(models.Model):
    """One calendar month of every reseller's purchases: count, value and
    cashback per status, and how many resellers recorded at least one
    purchase (any status). A month without purchases may have a row of zeros
    (its last purchase deleted) or none."""

    month = models.DateField(_("month"), primary_key=True)
    active_resellers = models.BigIntegerField(_("active resellers"), default=0)
    validating_count = models.BigIntegerField(default=0)
    validating_value = models.DecimalField(default=Decimal("0.00"), **FIGURE_MONEY)
    validating_cashback = models.DecimalField(default=Decimal("0.00"), **FIGURE_MONEY)
    approved_count = models.BigIntegerField(default=0)
    approved_value = models.DecimalField(default=Decimal("0.00"), **FIGURE_MONEY)
    approved_cashback = models.DecimalField(default=Decimal("0.00"), **FIGURE_MONEY)
    rejected_count = models.BigIntegerField(default=0)
    rejected_value = models.DecimalField(default=Decimal("0.00"), **FIGURE_MONEY)
    rejected_cashback = models.DecimalField(default=Decimal("0.00"), **FIGURE_MONEY)

    class Meta:
        verbose_name = _("month totals")
        verbose_name_plural = _("month totals")
        ordering = ["month"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class DayCounts(models.Model):
    """One day's purchases of every reseller, counted per status: what the
    staff's purchase list counts when it is filtered by month, dates and
    status, summed over the days instead of counting the rows. A day
    without purchases may have a row of zeros (its last purchase deleted)
    or none."""

    date = models.DateField(_("date"), primary_key=True)
    validating_count = models.BigIntegerField(default=0)
    approved_count = models.BigIntegerField(default=0)
    rejected_count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("day counts")
        verbose_name_plural = _("day counts")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


class CodeCounts(models.Model):
    """How many purchases, of every reseller's, carry one code: what the
    staff's search by code counts, summed over the codes that contain the
    term instead of counting the purchases (codes are unique per reseller
    only, so one code may stand for one purchase of every reseller). A code
    whose purchases are all gone keeps a row of zero until a rebuild."""

    code = models.CharField(_("code"), max_length=64, primary_key=True)
    purchase_count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("code counts")
        verbose_name_plural = _("code counts")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class MonthTierResellers(models.Model):
    """How many resellers reached one cashback percent in one month: the
    MonthlyCashback rows of the month with that percent. A row may stay at
    zero when its resellers move to another tier."""

    month = models.DateField(_("month"))
    percent = models.DecimalField(_("percent"), max_digits=5, decimal_places=2)
    resellers = models.BigIntegerField(_("resellers"), default=0)

    class Meta:
        verbose_name = _("month tier resellers")
        verbose_name_plural = _("month tier resellers")
        ordering = ["month", "percent"]
        constraints = [
            # The increments' conflict target; the month's tiers are a range of it.
            models.UniqueConstraint(fields=["month", "percent"], name="purchases_month_tier_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.percent}%: {self.resellers}"


class ProductMonthSales(models.Model):
    """One product in one calendar month: units and value (at the recorded
    unit prices) of its items in non-rejected purchases. A row may stay at
    zero when those purchases leave the figures."""

    product = models.ForeignKey(
        "products.Product",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("product"),
        db_index=False,  # led by the (product, month) constraint
    )
    month = models.DateField(_("month"))
    quantity = models.BigIntegerField(_("quantity"), default=0)
    total_value = models.DecimalField(_("total value"), default=Decimal("0.00"), **FIGURE_MONEY)

    class Meta:
        verbose_name = _("product month sales")
        verbose_name_plural = _("product month sales")
        ordering = ["month", "product"]
        constraints = [
            # The increments' conflict target; also what a product's delete
            # cascades through.
            models.UniqueConstraint(fields=["product", "month"], name="purchases_product_month_unique"),
        ]
        indexes = [
            # The month's ranking (top products) read in order, LIMIT rows.
            models.Index(
                fields=["month", "-quantity", "-total_value", "product"], name="purchases_product_month_rank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.month:%Y-%m}: {self.quantity}"
