from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from config import parsing
from config.serializers import StrictInputSerializer
from products.models import Category, Product
from products.services import sku_validate

# The largest price the column holds (12 digits, 2 of them decimals).
MAX_PRICE = Decimal("9999999999.99")


class CategoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]
        read_only_fields = fields


class CategoryInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(
        max_length=100,
        required=False,
        allow_blank=True,
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
        help_text=_("Stock keeping unit; stored trimmed and in upper case, unique in any case."),
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
