from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

SKU_FORMAT_MESSAGE = _("Use 1 to 64 unaccented letters (A-Z), digits, '.', '-' or '_'.")

# The one SKU rule, on the field: the admin's forms (through the model's
# validation) and the API's serializer (through sku_validate) apply it.
# Either case: SKUs are stored upper-cased (sku_normalize) before it runs.
validate_sku = RegexValidator(r"\A[A-Za-z0-9._-]{1,64}\Z", message=SKU_FORMAT_MESSAGE, code="invalid_sku")


def sku_normalize(value: str) -> str:
    """SKUs are compared case-insensitively, so they are stored trimmed and
    upper-cased (the unique index then covers every spelling)."""
    return (value or "").strip().upper()


def category_name_normalize(value: str) -> str:
    """Runs of spaces collapsed: "Perfumaria  Fina " is "Perfumaria Fina"."""
    return " ".join((value or "").split())


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The API's rules, for the admin too: names compared with their
        # spaces collapsed, slugs in lower case.
        self.name = category_name_normalize(self.name)
        self.slug = (self.slug or "").strip().lower()


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True, validators=[validate_sku])
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="products_product_price_positive"),
        ]
        indexes = [models.Index(fields=["is_active", "name"], name="products_active_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def clean(self) -> None:
        self.sku = sku_normalize(self.sku)


class Favorite(models.Model):
    reseller = models.ForeignKey(
        "resellers.Reseller", on_delete=models.CASCADE, related_name="favorites", verbose_name=_("reseller")
    )
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="favorited_by", verbose_name=_("product")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["reseller", "product"], name="products_favorite_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.reseller_id} ♥ {self.product_id}"
