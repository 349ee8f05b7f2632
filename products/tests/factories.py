from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from products.models import Category, Favorite, Product
from purchases.models import Purchase, PurchaseItem
from resellers.tests.factories import ResellerFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n:05d}")
    description = factory.Faker("sentence", locale="pt_BR")
    category = factory.SubFactory(CategoryFactory)
    price = factory.Sequence(lambda n: Decimal("10.00") + n)
    is_active = True


class FavoriteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Favorite

    reseller = factory.SubFactory(ResellerFactory)
    product = factory.SubFactory(ProductFactory)


def purchase_item_for(product: Product, quantity: int = 1) -> PurchaseItem:
    """A purchase item referencing the product, written directly: the
    purchase rules are not what the catalogue tests are about."""
    purchase = Purchase.objects.create(
        reseller=ResellerFactory(),
        code=f"NF-{product.pk}-{Purchase.objects.count()}",
        value=product.price * quantity,
        date=timezone.localdate() - timedelta(days=1),
    )
    return PurchaseItem.objects.create(
        purchase=purchase, product=product, quantity=quantity, unit_price=product.price
    )
