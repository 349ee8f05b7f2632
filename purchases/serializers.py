from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from products.models import Product
from purchases.models import MAX_PURCHASE_VALUE, Purchase, PurchaseItem, validate_purchase_date
from purchases.months import FIRST_MONTH, current_month, format_month, month_span, parse_month, shift_month
from resellers.serializers import CPFField

CODE_HELP = _("1 to 64 letters, digits, '-' or '_'; unique among your purchases.")


class PurchaseItemInputSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)


class PurchaseItemOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    total = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = PurchaseItem
        fields = ["product", "sku", "name", "quantity", "unit_price", "total"]
        read_only_fields = fields


def _value_field(**kwargs):
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_PURCHASE_VALUE,
        help_text=_('BRL, e.g. "150.00". Computed from the items when omitted.'),
        **kwargs,
    )


class PurchaseCreateInputSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", max_length=64, help_text=CODE_HELP)
    value = _value_field(required=False)
    date = serializers.DateField(validators=[validate_purchase_date])
    cpf = CPFField(
        required=False,
        help_text=_("The reseller's CPF. Resellers may omit it (their own); staff must send it."),
    )
    items = PurchaseItemInputSerializer(many=True, required=False, max_length=200)


class PurchaseUpdateInputSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", max_length=64, help_text=CODE_HELP)
    value = _value_field(required=False)
    date = serializers.DateField(validators=[validate_purchase_date])
    items = PurchaseItemInputSerializer(
        many=True,
        required=False,
        max_length=200,
        help_text=_("Replaces the items; an empty list removes them."),
    )


class PurchaseRejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PurchaseResellerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField(source="user.full_name")


class PurchaseOutputSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    items = PurchaseItemOutputSerializer(many=True)

    class Meta:
        model = Purchase
        fields = [
            "id",
            "code",
            "value",
            "date",
            "status",
            "status_display",
            "cashback_percent",
            "cashback_value",
            "items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PurchaseStaffOutputSerializer(PurchaseOutputSerializer):
    reseller = PurchaseResellerSerializer()
    reviewed_by = serializers.EmailField(source="reviewed_by.email", allow_null=True, default=None)

    class Meta(PurchaseOutputSerializer.Meta):
        fields = [
            *PurchaseOutputSerializer.Meta.fields,
            "reseller",
            "reviewed_by",
            "reviewed_at",
            "rejection_reason",
        ]
        read_only_fields = fields


class NextTierOutputSerializer(serializers.Serializer):
    percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    threshold = serializers.DecimalField(max_digits=12, decimal_places=2)
    missing = serializers.DecimalField(max_digits=14, decimal_places=2)


class MonthSummaryOutputSerializer(serializers.Serializer):
    month = serializers.SerializerMethodField()
    total_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    purchase_count = serializers.IntegerField()
    cashback_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    cashback_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    next_tier = NextTierOutputSerializer(allow_null=True)

    def get_month(self, summary) -> str:
        return format_month(summary.month)


class CashbackBalanceOutputSerializer(serializers.Serializer):
    credit = serializers.DecimalField(max_digits=14, decimal_places=2)
    source = serializers.ChoiceField(choices=["external", "local"])
    stale = serializers.BooleanField()
    fetched_at = serializers.DateTimeField()


class MonthQuerySerializer(serializers.Serializer):
    """?month=YYYY-MM, defaulting to the current month (America/Sao_Paulo)."""

    month = serializers.CharField(required=False, help_text=_("YYYY-MM; default: the current month."))

    def validate_month(self, value):
        return parse_month(value)

    def validated_month(self):
        return self.validated_data.get("month") or current_month()


# --- Analytics (staff) ----------------------------------------------------------

ANALYTICS_MAX_MONTHS = 120
ANALYTICS_DEFAULT_LIMIT = 10
ANALYTICS_MAX_LIMIT = 100
RANGE_ORDER_MESSAGE = _("The first month (from) must not be after the last month (to).")
RANGE_TOO_LONG_MESSAGE = _("Ask for at most %(months)s months at a time.")


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-03"})
class AnalyticsMonthField(serializers.Field):
    """A month written YYYY-MM (output only)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return format_month(value)


class AnalyticsTopQuerySerializer(MonthQuerySerializer):
    """?month=YYYY-MM&limit=N for the rankings."""

    limit = serializers.IntegerField(
        required=False,
        default=ANALYTICS_DEFAULT_LIMIT,
        min_value=1,
        max_value=ANALYTICS_MAX_LIMIT,
        help_text=_("How many rows, 1 to 100; default 10."),
    )


class AnalyticsRangeQuerySerializer(serializers.Serializer):
    """?from=YYYY-MM&to=YYYY-MM: ``to`` defaults to the current month and
    ``from`` to 11 months before ``to`` (twelve months in all)."""

    def get_fields(self):
        # "from" is a Python keyword: the fields cannot be class attributes.
        return {
            "from": serializers.CharField(required=False, help_text=_("First month, YYYY-MM.")),
            "to": serializers.CharField(required=False, help_text=_("Last month, YYYY-MM.")),
        }

    def validate_from(self, value):
        return parse_month(value)

    def validate_to(self, value):
        return parse_month(value)

    def validate(self, attrs):
        last = attrs.get("to") or current_month()
        first = attrs.get("from") or max(shift_month(last, -11), FIRST_MONTH)
        if first > last:
            raise serializers.ValidationError({"from": [RANGE_ORDER_MESSAGE]}, code="invalid_range")
        if month_span(first, last) > ANALYTICS_MAX_MONTHS:
            raise serializers.ValidationError(
                {"from": [RANGE_TOO_LONG_MESSAGE % {"months": ANALYTICS_MAX_MONTHS}]}, code="range_too_long"
            )
        return {"from": first, "to": last}


class AnalyticsStatusFiguresOutputSerializer(serializers.Serializer):
    purchase_count = serializers.IntegerField()
    total_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    cashback_value = serializers.DecimalField(max_digits=14, decimal_places=2)


class AnalyticsByStatusOutputSerializer(serializers.Serializer):
    validating = AnalyticsStatusFiguresOutputSerializer()
    approved = AnalyticsStatusFiguresOutputSerializer()
    rejected = AnalyticsStatusFiguresOutputSerializer(
        help_text=_("Rejected purchases earn no cashback: its cashback_value is always 0.00.")
    )


class AnalyticsTierOutputSerializer(serializers.Serializer):
    percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    resellers = serializers.IntegerField()


class AnalyticsSummaryOutputSerializer(serializers.Serializer):
    month = AnalyticsMonthField()
    by_status = AnalyticsByStatusOutputSerializer(
        help_text=_("Count, value and cashback of the month's purchases in each status (zeros included).")
    )
    active_resellers = serializers.IntegerField(
        help_text=_("Distinct resellers with at least one purchase in the month, in any status.")
    )
    resellers_per_tier = AnalyticsTierOutputSerializer(
        many=True,
        help_text=_(
            "Resellers whose month total of non-rejected purchases reached each tier of the "
            "month's policy, by percent; tiers nobody reached show 0."
        ),
    )


class AnalyticsMonthRowOutputSerializer(serializers.Serializer):
    month = AnalyticsMonthField()
    purchase_count = serializers.IntegerField(help_text=_("Non-rejected purchases of the month."))
    total_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("Value of the month's non-rejected purchases.")
    )
    cashback_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("Cashback they earn (validating and approved).")
    )


class AnalyticsMonthlyOutputSerializer(serializers.Serializer):
    def get_fields(self):
        # "from" is a Python keyword: the fields cannot be class attributes.
        return {
            "from": AnalyticsMonthField(source="from_month"),
            "to": AnalyticsMonthField(source="to_month"),
            "results": AnalyticsMonthRowOutputSerializer(
                many=True, help_text=_("One row per month, oldest first, months without purchases as zeros.")
            ),
        }


class AnalyticsResellerRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class AnalyticsTopResellerOutputSerializer(serializers.Serializer):
    reseller = AnalyticsResellerRefOutputSerializer()
    total_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("The month's total of non-rejected purchases.")
    )
    purchase_count = serializers.IntegerField(help_text=_("Non-rejected purchases of the month."))
    cashback_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    cashback_value = serializers.DecimalField(max_digits=14, decimal_places=2)


class AnalyticsTopResellersOutputSerializer(serializers.Serializer):
    month = AnalyticsMonthField()
    results = AnalyticsTopResellerOutputSerializer(many=True)


class AnalyticsProductRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()


class AnalyticsTopProductOutputSerializer(serializers.Serializer):
    product = AnalyticsProductRefOutputSerializer()
    quantity = serializers.IntegerField(help_text=_("Units in the month's non-rejected purchases."))
    total_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=_("Sum of unit price x quantity of those units.")
    )


class AnalyticsTopProductsOutputSerializer(serializers.Serializer):
    month = AnalyticsMonthField()
    results = AnalyticsTopProductOutputSerializer(many=True)
