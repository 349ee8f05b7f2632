"""Writes to the catalogue (products, categories) and to favourites.

Every catalogue write invalidates the cached catalogue answers by bumping the
cache namespace's version once the transaction commits, so a rolled-back
write never invalidates anything and a reader never caches data from it.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from core import cache
from core.exceptions import ConflictError
from products.models import (
    SKU_FORMAT_MESSAGE,  # noqa: F401 (the API's tests import it from here)
    Category,
    Favorite,
    Product,
    category_name_normalize,
    sku_normalize,
    validate_sku,
)

SKU_TAKEN_MESSAGE = _("A product with this SKU already exists.")
CATEGORY_NAME_TAKEN_MESSAGE = _("A category with this name already exists.")
CATEGORY_SLUG_TAKEN_MESSAGE = _("A category with this slug already exists.")
CATEGORY_SLUG_REQUIRED_MESSAGE = _("Give the category a slug: its name has no letters or digits to make one.")
CATEGORY_IN_USE_MESSAGE = _("This category still has products. Move or delete them first.")
PRODUCT_DEACTIVATED_MESSAGE = _(
    "The product is referenced by purchases, so it was deactivated instead of deleted."
)
PRODUCT_INACTIVE_MESSAGE = _("This product is not available.")

_PRODUCT_FIELDS = frozenset({"sku", "name", "description", "category", "price", "is_active"})
_CATEGORY_FIELDS = frozenset({"name", "slug"})


def catalogue_invalidate() -> None:
    """Make every cached catalogue answer unreachable once the current
    transaction commits (at once outside a transaction)."""
    cache.invalidate(cache.CATALOGUE)


def sku_validate(value: str) -> str:
    """The SKU normalised, checked by the model field's rule."""
    sku = sku_normalize(value)
    try:
        validate_sku(sku)
    except ValidationError as exc:
        raise ValidationError({"sku": exc.messages}, code="invalid_sku") from exc
    return sku


# --- Products ----------------------------------------------------------------


def _check_sku_free(sku: str, *, exclude_pk: int | None = None) -> None:
    if Product.objects.filter(sku=sku).exclude(pk=exclude_pk).exists():
        raise ValidationError({"sku": [SKU_TAKEN_MESSAGE]}, code="unique")


def _save_product(product: Product) -> Product:
    # Field rules (lengths, two decimal places, price > 0) once more for the
    # callers that do not come through a serializer; the friendly SKU check
    # already ran, the unique index settles races on the same field.
    product.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:
        raise ValidationError({"sku": [SKU_TAKEN_MESSAGE]}, code="unique") from exc
    catalogue_invalidate()
    return product


@transaction.atomic
def product_create(
    *,
    sku: str,
    name: str,
    category: Category,
    price: Decimal,
    description: str = "",
    is_active: bool = True,
) -> Product:
    sku = sku_validate(sku)
    _check_sku_free(sku)
    product = Product(
        sku=sku,
        name=name,
        description=description,
        category=category,
        price=price,
        is_active=is_active,
    )
    return _save_product(product)


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any]) -> Product:
    """Change the given fields (any of sku, name, description, category,
    price, is_active); the others stay as they are."""
    unknown = set(data) - _PRODUCT_FIELDS
    if unknown:
        raise TypeError(f"product_update() got unexpected fields: {sorted(unknown)}")
    if "sku" in data:
        data = {**data, "sku": sku_validate(data["sku"])}
        _check_sku_free(data["sku"], exclude_pk=product.pk)
    for field, value in data.items():
        setattr(product, field, value)
    return _save_product(product)


@transaction.atomic
def product_deactivate(*, product: Product) -> Product:
    if product.is_active:
        product.is_active = False
        product.save(update_fields=["is_active", "updated_at"])
    catalogue_invalidate()
    return product


@transaction.atomic
def product_delete(*, product: Product) -> Product | None:
    """Delete the product, or, when purchases reference it (their history
    must keep it), deactivate it instead.

    Returns None when the product was deleted, the deactivated product
    otherwise."""
    # The row lock serialises this with the other writers that lock the
    # product: favorite_add, and purchase_create / purchase_update, which lock
    # the products their items reference until they commit. So a purchase
    # item committed first is seen here (deactivate), and a purchase waiting
    # for the lock finds the product gone and answers 400; the foreign key
    # remains the last guard.
    product = Product.objects.select_for_update(of=("self",)).select_related("category").get(pk=product.pk)
    if product.purchase_items.exists():
        return product_deactivate(product=product)
    try:
        with transaction.atomic():
            product.delete()
    except ProtectedError:
        return product_deactivate(product=product)
    catalogue_invalidate()
    return None


@transaction.atomic
def product_bulk_set_active(*, product_ids: Iterable[int], is_active: bool) -> int:
    """Activate or deactivate many products at once (admin actions).
    Returns how many changed."""
    changed = (
        Product.objects.filter(pk__in=list(product_ids))
        .exclude(is_active=is_active)
        .update(is_active=is_active)
    )
    if changed:
        catalogue_invalidate()
    return changed


# --- Categories --------------------------------------------------------------


def _category_slug(name: str, slug: str | None) -> str:
    slug = (slug or "").strip().lower() or slugify(name)[:100]
    if not slug:
        raise ValidationError({"slug": [CATEGORY_SLUG_REQUIRED_MESSAGE]}, code="required")
    return slug


def _category_duplicates(*, name: str, slug: str, exclude_pk: int | None = None) -> dict:
    others = Category.objects.exclude(pk=exclude_pk)
    errors = {}
    if others.filter(name__iexact=name).exists():
        errors["name"] = [CATEGORY_NAME_TAKEN_MESSAGE]
    if others.filter(slug=slug).exists():
        errors["slug"] = [CATEGORY_SLUG_TAKEN_MESSAGE]
    return errors


def _save_category(category: Category) -> Category:
    if errors := _category_duplicates(name=category.name, slug=category.slug, exclude_pk=category.pk):
        raise ValidationError(errors, code="unique")
    category.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError as exc:
        errors = _category_duplicates(name=category.name, slug=category.slug, exclude_pk=category.pk)
        raise ValidationError(errors or {"name": [CATEGORY_NAME_TAKEN_MESSAGE]}, code="unique") from exc
    catalogue_invalidate()
    return category


@transaction.atomic
def category_create(*, name: str, slug: str | None = None) -> Category:
    """Create a category; without a slug one is made from the name."""
    name = " ".join(name.split())
    return _save_category(Category(name=name, slug=_category_slug(name, slug)))


@transaction.atomic
def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    unknown = set(data) - _CATEGORY_FIELDS
    if unknown:
        raise TypeError(f"category_update() got unexpected fields: {sorted(unknown)}")
    if "name" in data:
        category.name = category_name_normalize(data["name"])
    if "slug" in data:
        category.slug = _category_slug(category.name, data["slug"])
    return _save_category(category)


@transaction.atomic
def category_delete(*, category: Category) -> None:
    """Delete an empty category; one with products is a conflict (409)."""
    # Locked so that a product being created in it either commits first (and
    # we refuse) or waits and then fails on its foreign key.
    category = Category.objects.select_for_update().get(pk=category.pk)
    if category.products.exists():
        raise ConflictError(CATEGORY_IN_USE_MESSAGE)
    try:
        with transaction.atomic():
            category.delete()
    except ProtectedError as exc:
        raise ConflictError(CATEGORY_IN_USE_MESSAGE) from exc
    catalogue_invalidate()


# --- Favourites --------------------------------------------------------------


@transaction.atomic
def favorite_add(*, reseller, product_id: int) -> tuple[Favorite, bool]:
    """Mark a product as the reseller's favourite. Idempotent: returns the
    favourite and whether it was created now.

    Raises Product.DoesNotExist for an unknown product and ValidationError
    for an inactive one."""
    # FOR NO KEY UPDATE: a concurrent deactivation or delete of the product
    # waits for us (and we for it), so an inactive or vanished product never
    # becomes a favourite. Favourites of other resellers are not blocked
    # for longer than this short transaction.
    product = Product.objects.select_for_update(no_key=True).get(pk=product_id)
    if not product.is_active:
        raise ValidationError({"product_id": [PRODUCT_INACTIVE_MESSAGE]}, code="inactive")
    # get_or_create creates inside a savepoint and, when a concurrent request
    # won the race on the unique constraint, reads that request's row.
    try:
        return Favorite.objects.get_or_create(reseller=reseller, product=product)
    except IntegrityError:
        return Favorite.objects.get(reseller=reseller, product=product), False


@transaction.atomic
def favorite_remove(*, reseller, product_id: int) -> bool:
    """Remove a favourite. Idempotent: returns whether one was removed.

    Raises Product.DoesNotExist for an unknown product."""
    deleted, _details = Favorite.objects.filter(reseller=reseller, product_id=product_id).delete()
    if not deleted and not Product.objects.filter(pk=product_id).exists():
        raise Product.DoesNotExist
    return bool(deleted)
