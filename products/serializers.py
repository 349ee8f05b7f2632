from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core import parsing
from core.serializers import StrictInputSerializer
from products.models import Category, Product
from products.services import SKU_FORMAT_MESSAGE, sku_validate

# The largest price the column holds (12 digits, 2 of them decimals).
MAX_PRICE = Decimal("9999999999.99")
# The API takes a SKU as it will be stored but for the case: exactly these
# characters (the schema's pattern), nothing trimmed or folded into them.
SKU_INPUT_PATTERN = r"\A[A-Za-z0-9._-]{1,64}\Z"


class CategoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]
        read_only_fields = fields


class CategoryInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.RegexField(
        r"\A[-a-zA-Z0-9_]+\Z",
        max_length=100,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        error_messages={"invalid": serializers.SlugField.default_error_messages["invalid"]},
        help_text=_("Made from the name when omitted."),
    )


class ProductOutputSerializer(serializers.ModelSerializer):
    category = CategoryOutputSerializer()

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "description", "category", "price", "is_active"]
        read_only_fields = fields


class ProductInputSerializer(StrictInputSerializer):
    sku = serializers.CharField(
        max_length=64,
        trim_whitespace=False,
        validators=[RegexValidator(SKU_INPUT_PATTERN, SKU_FORMAT_MESSAGE)],
        help_text=_(
            "Stock keeping unit: letters, digits, '.', '-' or '_'; stored in upper case, unique in any case."
        ),
    )
    name = serializers.CharField(max_length=200)
    # Optional even on PUT: an omitted description or is_active keeps its
    # value (a new product gets "" and active).
    description = serializers.CharField(required=False, allow_blank=True)
    category = parsing.PrimaryKeyRelatedField(queryset=Category.objects.all(), help_text=_("Category id."))
    price = parsing.AmountField(maximum=MAX_PRICE)
    is_active = serializers.BooleanField(required=False)

    def validate_sku(self, value):
        try:
            return sku_validate(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["sku"]) from exc


class ProductDeactivatedOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()
    product = ProductOutputSerializer()
