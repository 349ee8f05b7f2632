from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from core.cache import CATALOGUE as CATALOGUE_CACHE_NAMESPACE
from core.cache import get_version
from core.exceptions import ConflictError
from products import services
from products.models import Category, Favorite, Product
from products.services import (
    CATEGORY_IN_USE_MESSAGE,
    PRODUCT_INACTIVE_MESSAGE,
    SKU_TAKEN_MESSAGE,
    category_create,
    category_delete,
    category_update,
    favorite_add,
    favorite_remove,
    product_bulk_set_active,
    product_create,
    product_delete,
    product_update,
    sku_normalize,
)
from products.tests.factories import CategoryFactory, FavoriteFactory, ProductFactory
from purchases.services import ItemInput
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("raw", "expected"), [(" abc-1 ", "ABC-1"), ("Ab.C_9", "AB.C_9"), ("", "")])
def test_sku_normalize(raw, expected):
    assert sku_normalize(raw) == expected


def test_product_create_normalises_and_invalidates_on_commit(django_capture_on_commit_callbacks):
    category = CategoryFactory()
    before = get_version(CATALOGUE_CACHE_NAMESPACE)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        product = product_create(sku=" x-1 ", name="X", category=category, price=Decimal("1.50"))
    assert product.sku == "X-1"
    assert product.description == ""
    assert product.is_active is True
    assert len(callbacks) == 1
    assert get_version(CATALOGUE_CACHE_NAMESPACE) > before


def test_product_create_rejects_a_duplicate_sku_in_another_case(django_capture_on_commit_callbacks):
    ProductFactory(sku="X-1")
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError) as error:
        product_create(sku="x-1", name="X", category=CategoryFactory(), price=Decimal("1.00"))
    assert error.value.message_dict == {"sku": [str(SKU_TAKEN_MESSAGE)]}
    assert callbacks == []


def test_the_unique_index_settles_a_race_on_the_sku(monkeypatch):
    ProductFactory(sku="X-1")
    monkeypatch.setattr(services, "_check_sku_free", lambda sku, exclude_pk=None: None)
    with pytest.raises(ValidationError) as error:
        product_create(sku="x-1", name="X", category=CategoryFactory(), price=Decimal("1.00"))
    assert error.value.message_dict == {"sku": [str(SKU_TAKEN_MESSAGE)]}
    assert Product.objects.count() == 1


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-1"), Decimal("1.001"), Decimal("10000000000")])
def test_product_create_enforces_the_price_rules_without_a_serializer(price):
    with pytest.raises(ValidationError) as error:
        product_create(sku="P-1", name="P", category=CategoryFactory(), price=price)
    assert "price" in error.value.message_dict
    assert not Product.objects.exists()


def test_product_update_changes_given_fields():
    product = ProductFactory(price="10.00", name="Old")
    product_update(product=product, data={"price": Decimal("12.00"), "sku": "new"})
    product.refresh_from_db()
    assert (product.price, product.sku, product.name) == (Decimal("12.00"), "NEW", "Old")


def test_product_update_refuses_unknown_fields():
    with pytest.raises(TypeError):
        product_update(product=ProductFactory(), data={"created_at": None})


def test_product_delete_deletes_an_unused_product():
    product = ProductFactory()
    assert product_delete(product=product) is None
    assert not Product.objects.exists()


def test_product_delete_deactivates_a_used_product(django_capture_on_commit_callbacks, make_purchase):
    product = ProductFactory()
    make_purchase(items=[ItemInput(product=product, quantity=1)])
    with django_capture_on_commit_callbacks() as callbacks:
        result = product_delete(product=product)
    assert result.pk == product.pk
    assert result.is_active is False
    assert Product.objects.get(pk=product.pk).is_active is False
    assert len(callbacks) == 1


def test_product_bulk_set_active_counts_and_invalidates_only_changes(django_capture_on_commit_callbacks):
    active, inactive = ProductFactory(), ProductFactory(is_active=False)
    with django_capture_on_commit_callbacks() as callbacks:
        assert product_bulk_set_active(product_ids=[active.pk, inactive.pk], is_active=True) == 1
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        assert product_bulk_set_active(product_ids=[active.pk, inactive.pk], is_active=True) == 0
    assert callbacks == []
    assert Product.objects.filter(is_active=True).count() == 2


def test_category_create_and_update():
    category = category_create(name=" Cuidados  Diários ")
    assert (category.name, category.slug) == ("Cuidados Diários", "cuidados-diarios")
    category_update(category=category, data={"slug": ""})
    assert category.slug == "cuidados-diarios"
    category_update(category=category, data={"name": "Diários", "slug": "Dia"})
    category.refresh_from_db()
    assert (category.name, category.slug) == ("Diários", "dia")


def test_category_delete_refuses_a_category_with_products(django_capture_on_commit_callbacks):
    product = ProductFactory()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ConflictError) as error:
        category_delete(category=product.category)
    assert error.value.message == CATEGORY_IN_USE_MESSAGE
    assert callbacks == []
    assert Category.objects.filter(pk=product.category_id).exists()


def test_favorite_add_is_idempotent():
    reseller, product = ResellerFactory(), ProductFactory()
    favorite, created = favorite_add(reseller=reseller, product_id=product.pk)
    assert created is True
    again, created = favorite_add(reseller=reseller, product_id=product.pk)
    assert (again.pk, created) == (favorite.pk, False)


def test_favorite_add_survives_losing_the_race(monkeypatch):
    """The unique constraint decides between two concurrent adds; the loser
    reads the winner's row."""
    reseller, product = ResellerFactory(), ProductFactory()
    existing = FavoriteFactory(reseller=reseller, product=product)

    def lose_the_race(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(Favorite.objects, "get_or_create", lose_the_race)
    favorite, created = favorite_add(reseller=reseller, product_id=product.pk)
    assert (favorite.pk, created) == (existing.pk, False)


def test_favorite_add_refuses_inactive_and_unknown_products():
    reseller = ResellerFactory()
    with pytest.raises(ValidationError) as error:
        favorite_add(reseller=reseller, product_id=ProductFactory(is_active=False).pk)
    assert error.value.message_dict == {"product_id": [str(PRODUCT_INACTIVE_MESSAGE)]}
    with pytest.raises(Product.DoesNotExist):
        favorite_add(reseller=reseller, product_id=999999)
    assert not Favorite.objects.exists()


def test_favorite_remove_is_idempotent():
    favorite = FavoriteFactory()
    assert favorite_remove(reseller=favorite.reseller, product_id=favorite.product_id) is True
    assert favorite_remove(reseller=favorite.reseller, product_id=favorite.product_id) is False
    with pytest.raises(Product.DoesNotExist):
        favorite_remove(reseller=favorite.reseller, product_id=999999)


def test_favourites_do_not_touch_the_catalogue_cache(django_capture_on_commit_callbacks):
    reseller, product = ResellerFactory(), ProductFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        favorite_add(reseller=reseller, product_id=product.pk)
        favorite_remove(reseller=reseller, product_id=product.pk)
    assert callbacks == []
