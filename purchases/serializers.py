from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from django_filters.utils import translate_validation
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core import parsing
from core.filters import UNKNOWN_ORDERING_MESSAGE
from core.serializers import RowSerializer, StrictInputSerializer
from products.models import Product
from purchases.exports import DIALECT_CHOICES, PLAIN
from purchases.filters import PURCHASE_ORDERINGS, PurchaseFilter
from purchases.models import MAX_PURCHASE_VALUE, Purchase, validate_purchase_date
from purchases.months import INVALID_MONTH_MESSAGE, MONTH_PATTERN, current_month, format_month, parse_month
from resellers.serializers import CPFField

CODE_HELP = _("1 to 64 letters, digits, '-' or '_'; unique among your purchases.")
DATE_FROM_2000_PATTERN = r"\A[2-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])\Z"


UNKNOWN_PRODUCT_MESSAGE = _("No such product, or it is inactive: {pk_value}.")


class PurchaseItemInputSerializer(StrictInputSerializer):
    # Active products only: an unknown and a retired one get the same
    # message, at the item's index. (The service checks again, under lock.)
    product = parsing.PrimaryKeyRelatedField(
        queryset=Product.objects.filter(is_active=True),
        error_messages={"does_not_exist": UNKNOWN_PRODUCT_MESSAGE},
    )
    quantity = parsing.IntegerField(min_value=1, max_value=100_000)


class PurchaseItemOutputSerializer(RowSerializer):
    product = serializers.IntegerField(help_text=_("The product's id."))
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text=_("The catalogue price when the purchase was recorded.")
    )
    total = serializers.DecimalField(max_digits=14, decimal_places=2)


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
class PurchaseResellerOutputSerializer(RowSerializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


# Written from the rows of selectors.purchase_rows: list, detail and the
# answers of writes alike.
class PurchaseOutputSerializer(RowSerializer):
    """A purchase as its owner sees it."""

    id = serializers.IntegerField()
    code = serializers.CharField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    date = serializers.DateField()
    status = serializers.ChoiceField(choices=Purchase.Status.choices)
    status_display = serializers.CharField(help_text=_("The status's name in the request's language."))
    cashback_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    cashback_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    reviewed_at = serializers.DateTimeField(
        allow_null=True, help_text=_("When staff approved or rejected it; null while in validation.")
    )
    rejection_reason = serializers.CharField(
        allow_blank=True, help_text=_("Why staff rejected it; empty unless rejected.")
    )
    items = PurchaseItemOutputSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class StaffPurchaseOutputSerializer(PurchaseOutputSerializer):
    """A purchase as staff see it: with whose it is and who reviewed it."""

    reseller = PurchaseResellerOutputSerializer()
    reviewed_by = serializers.EmailField(
        allow_null=True, help_text=_("The e-mail of the staff member who reviewed it.")
    )


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
    source = serializers.ChoiceField(
        choices=[("external", _("The brand's cashback API")), ("local", _("The local ledger"))],
        help_text=_(
            "external: the brand's credit, as last stored; local: the cashback of approved purchases."
        ),
    )
    stale = serializers.BooleanField(
        help_text=_(
            "True when the brand's credit is older than a few minutes (a refresh is pending or failed)."
        )
    )
    fetched_at = serializers.DateTimeField(
        help_text=_("When the brand gave the credit (for the local ledger: when it was computed).")
    )


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


# --- Exports ------------------------------------------------------------------------


class ListFilterField:
    """A filter of the purchase list's query, sent in a JSON body: of its
    JSON type (core.serializers), as sent (not trimmed) and not empty; its
    value is checked by the list's FilterSet, with the list's messages
    (``PurchaseExportInputSerializer.validate``). ``schema`` states what
    that filter accepts, as the list's query parameter does: a JSON schema,
    or a field whose schema it is (an enum of choices then has its name)."""

    def __init__(self, *, schema: dict | serializers.Field, **kwargs):
        self.schema = schema
        super().__init__(required=False, **kwargs)


class ListFilterTextField(ListFilterField, serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)


class ListFilterIdField(ListFilterField, serializers.IntegerField):
    pass


class ListFilterFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ListFilterField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = self.target.schema
        if isinstance(schema, serializers.Field):
            return auto_schema._map_serializer_field(schema, direction)
        return dict(schema)


# The purchase list's filters and order, as in GET /api/v1/purchases/ (each
# optional; absent, it does not filter), and the file's dialect.
class PurchaseExportInputSerializer(StrictInputSerializer):
    status = ListFilterTextField(
        schema=serializers.ChoiceField(choices=Purchase.Status.choices),
        help_text=_("Status: `validating`, `approved` or `rejected`."),
    )
    month = ListFilterTextField(
        schema={"type": "string", "pattern": MONTH_PATTERN},
        help_text=_("Purchases dated in the month `YYYY-MM`."),
    )
    date_from = ListFilterTextField(
        schema={"type": "string", "format": "date"}, help_text=_("Dated from this day on (inclusive).")
    )
    date_to = ListFilterTextField(
        schema={"type": "string", "format": "date"}, help_text=_("Dated up to this day (inclusive).")
    )
    reseller = ListFilterIdField(
        schema={"type": "integer", "format": "int64", "minimum": 1, "maximum": parsing.MAX_ID},
        help_text=_("The reseller's id."),
    )
    search = serializers.CharField(
        required=False, max_length=64, help_text=_("Part of the purchase's code (case-insensitive).")
    )
    ordering = ListFilterTextField(
        schema={"type": "string", "enum": list(PURCHASE_ORDERINGS)},
        help_text=_("Order of the rows, as in the list (default: the latest date first)."),
    )
    dialect = serializers.ChoiceField(
        choices=DIALECT_CHOICES,
        default=PLAIN,
        help_text=_(
            "`plain` (the default): comma-separated, decimal point, ISO 8601 dates, UTF-8 without BOM. "
            "`pt-BR`: semicolon-separated, decimal comma, dd/mm/yyyy dates, UTF-8 with BOM "
            "(opens directly in spreadsheets in Portuguese)."
        ),
    )

    def validate(self, attrs):
        # As the list checks its query: the FilterSet first, then the order.
        filters = {name: attrs[name] for name in PurchaseFilter.base_filters if name in attrs}
        filterset = PurchaseFilter(data=filters, queryset=Purchase.objects.none())
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        ordering = attrs.get("ordering", "")
        if ordering and ordering not in PURCHASE_ORDERINGS:
            message = UNKNOWN_ORDERING_MESSAGE % {"allowed": ", ".join(PURCHASE_ORDERINGS)}
            raise serializers.ValidationError({"ordering": [message]}, code="invalid_ordering")
        return {"filters": filters, "ordering": ordering, "dialect": attrs["dialect"]}
