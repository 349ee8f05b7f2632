from decimal import ROUND_HALF_UP, Decimal

from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from config import parsing
from config.serializers import StrictInputSerializer
from products.models import Product
from purchases.models import MAX_PURCHASE_VALUE, Purchase, PurchaseItem, validate_purchase_date
from purchases.months import INVALID_MONTH_MESSAGE, MONTH_PATTERN, current_month, format_month, parse_month
from resellers.serializers import CPFField

CODE_HELP = _("1 to 64 letters, digits, '-' or '_'; unique among your purchases.")
DATE_FROM_2000_PATTERN = r"\A[2-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])\Z"


class PurchaseItemInputSerializer(StrictInputSerializer):
    product = parsing.PrimaryKeyRelatedField(queryset=Product.objects.all())
    quantity = parsing.IntegerField(min_value=1, max_value=100_000)


class PurchaseItemOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    total = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = PurchaseItem
        fields = ["product", "sku", "name", "quantity", "unit_price", "total"]
        read_only_fields = fields


def _value_field(**kwargs):
    return parsing.AmountField(
        maximum=MAX_PURCHASE_VALUE,
        help_text=_('BRL, e.g. "150.00". Computed from the items when omitted.'),
        **kwargs,
    )


class _PurchaseInputFields(StrictInputSerializer):
    # The fields a purchase is written with, on create and on update alike.
    code = serializers.RegexField(
        r"\A[A-Za-z0-9_-]{1,64}\Z", max_length=64, trim_whitespace=False, help_text=CODE_HELP
    )
    value = _value_field(required=False)
    date = parsing.DateField(
        # The pattern states the year bound in the schema ("format: date"
        # cannot); validate_purchase_date holds both bounds.
        validators=[validate_purchase_date, RegexValidator(DATE_FROM_2000_PATTERN)],
        help_text=_("From 2000-01-01 to today (America/Sao_Paulo)."),
    )


class PurchaseCreateInputSerializer(_PurchaseInputFields):
    cpf = CPFField(
        required=False,
        help_text=_("The reseller's CPF. Resellers may omit it (their own); staff must send it."),
    )
    items = PurchaseItemInputSerializer(many=True, required=False, max_length=200)


class PurchaseUpdateInputSerializer(_PurchaseInputFields):
    items = PurchaseItemInputSerializer(
        many=True,
        required=False,
        max_length=200,
        help_text=_("Replaces the items; an empty list removes them."),
    )


class PurchaseRejectInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=500)


@extend_schema_serializer(component_name="PurchaseReseller")
class PurchaseResellerOutputSerializer(serializers.Serializer):
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
    reseller = PurchaseResellerOutputSerializer()
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


# --- The list, built for speed ---------------------------------------------------
# The list is read far more than anything else, so its rows are plain dicts
# from ``values()`` (selectors.PURCHASE_ROW_FIELDS) and one batched query per
# related table (selectors.purchase_page_related), written here in exactly
# the shape and formats of the output serializers above, which document it
# (a test holds the two equal). Building DRF fields per row costs more than
# the database does.

_CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    # As DRF's DecimalField with decimal_places=2 and COERCE_DECIMAL_TO_STRING.
    return format(value.quantize(_CENT, rounding=ROUND_HALF_UP), "f")


def _datetime(value, zone) -> str | None:
    # As DRF's DateTimeField: ISO 8601 in the current time zone, "Z" for UTC.
    if value is None:
        return None
    text = timezone.localtime(value, zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def purchase_row(purchase: Purchase) -> dict:
    """A purchase held in memory (just written) as a list row, with the
    staff's columns (selectors.PURCHASE_STAFF_ROW_FIELDS): its answer is then
    written by ``purchase_rows_output`` without reading it back. The
    reseller's user and the reviewer are read through the instance's
    relations, so the caller provides them loaded when it can."""
    reviewer = purchase.reviewed_by if purchase.reviewed_by_id is not None else None
    return {
        "id": purchase.pk,
        "code": purchase.code,
        "value": purchase.value,
        "date": purchase.date,
        "status": purchase.status,
        "cashback_percent": purchase.cashback_percent,
        "cashback_value": purchase.cashback_value,
        "created_at": purchase.created_at,
        "updated_at": purchase.updated_at,
        "reseller_id": purchase.reseller_id,
        "reseller__user__full_name": purchase.reseller.user.full_name,
        "reviewed_by__email": reviewer.email if reviewer is not None else None,
        "reviewed_at": purchase.reviewed_at,
        "rejection_reason": purchase.rejection_reason,
    }


def purchase_rows_output(rows: list[dict], items: dict[int, list[dict]], *, staff: bool) -> list[dict]:
    """The list's rows as PurchaseOutputSerializer (staff:
    PurchaseStaffOutputSerializer) would write them."""
    zone = timezone.get_current_timezone()
    status_labels = {value: str(label) for value, label in Purchase.Status.choices}
    output = []
    for row in rows:
        data = {
            "id": row["id"],
            "code": row["code"],
            "value": _money(row["value"]),
            "date": row["date"].isoformat(),
            "status": row["status"],
            "status_display": status_labels[row["status"]],
            "cashback_percent": _money(row["cashback_percent"]),
            "cashback_value": _money(row["cashback_value"]),
            "items": [
                {
                    "product": item["product_id"],
                    "sku": item["product__sku"],
                    "name": item["product__name"],
                    "quantity": item["quantity"],
                    "unit_price": _money(item["unit_price"]),
                    "total": _money(item["unit_price"] * item["quantity"]),
                }
                for item in items[row["id"]]
            ],
            "created_at": _datetime(row["created_at"], zone),
            "updated_at": _datetime(row["updated_at"], zone),
        }
        if staff:
            data["reseller"] = {
                "id": row["reseller_id"],
                "full_name": row["reseller__user__full_name"],
            }
            data["reviewed_by"] = row["reviewed_by__email"]
            data["reviewed_at"] = _datetime(row["reviewed_at"], zone)
            data["rejection_reason"] = row["rejection_reason"]
        output.append(data)
    return output


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


class MonthQueryInputSerializer(serializers.Serializer):
    """?month=YYYY-MM, defaulting to the current month (America/Sao_Paulo)."""

    month = serializers.CharField(
        required=False,
        trim_whitespace=False,
        # The schema's pattern; validate_month reads the month.
        validators=[RegexValidator(MONTH_PATTERN, INVALID_MONTH_MESSAGE)],
        help_text=_("YYYY-MM; default: the current month."),
    )

    def validate_month(self, value):
        return parse_month(value)

    def validated_month(self):
        return self.validated_data.get("month") or current_month()
