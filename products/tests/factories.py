from decimal import Decimal

import factory

from products.models import Category, Favorite, Product
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
