"""Staff analytics: query parameters in, aggregate figures out."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import parsing
from purchases.months import (
    FIRST_MONTH,
    INVALID_MONTH_MESSAGE,
    MONTH_PATTERN,
    current_month,
    format_month,
    month_span,
    parse_month,
    shift_month,
)
from purchases.serializers import MonthQueryInputSerializer

ANALYTICS_MAX_MONTHS = 120
ANALYTICS_DEFAULT_LIMIT = 10
ANALYTICS_MAX_LIMIT = 100
RANGE_ORDER_MESSAGE = _("The first month (from) must not be after the last month (to).")
RANGE_TOO_LONG_MESSAGE = _("Ask for at most %(months)s months at a time.")


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN, "example": "2026-03"})
class AnalyticsMonthField(serializers.Field):
    """A month written YYYY-MM (output only)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return format_month(value)


class AnalyticsTopQueryInputSerializer(MonthQueryInputSerializer):
    """?month=YYYY-MM&limit=N for the rankings."""

    limit = parsing.IntegerField(
        required=False,
        default=ANALYTICS_DEFAULT_LIMIT,
        min_value=1,
        max_value=ANALYTICS_MAX_LIMIT,
        help_text=_("How many rows, 1 to 100; default 10."),
    )


def _month_field(**kwargs):
    return serializers.CharField(
        required=False,
        trim_whitespace=False,
        # The schema's pattern; validate_from and validate_to read the month.
        validators=[RegexValidator(MONTH_PATTERN, INVALID_MONTH_MESSAGE)],
        **kwargs,
    )


class AnalyticsRangeQueryInputSerializer(serializers.Serializer):
    """?from=YYYY-MM&to=YYYY-MM: ``to`` defaults to the current month and
    ``from`` to 11 months before ``to`` (twelve months in all)."""

    def get_fields(self):
        # "from" is a Python keyword: the fields cannot be class attributes.
        return {
            "from": _month_field(help_text=_("First month, YYYY-MM; default: 11 months before `to`.")),
            "to": _month_field(help_text=_("Last month, YYYY-MM; default: the current month.")),
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
