from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from purchases.models import Purchase
from resellers.tests.factories import ResellerFactory


class PurchaseFactory(factory.django.DjangoModelFactory):
    """A bare purchase row. Its cashback columns are NOT computed: go through
    purchases.services (or call monthly_cashback_recalculate) when they matter."""

    class Meta:
        model = Purchase

    reseller = factory.SubFactory(ResellerFactory)
    code = factory.Sequence(lambda n: f"NF-{n:06d}")
    value = Decimal("100.00")
    date = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=1))
