from datetime import date
from decimal import Decimal

from django.db import migrations

DEFAULT_TIERS = [
    (Decimal("1000.00"), Decimal("10.00")),
    (Decimal("1500.00"), Decimal("15.00")),
    (None, Decimal("20.00")),
]


def create_default_policy(apps, schema_editor):
    CashbackPolicy = apps.get_model("purchases", "CashbackPolicy")
    CashbackTier = apps.get_model("purchases", "CashbackTier")
    policy, created = CashbackPolicy.objects.get_or_create(
        effective_from=date(2000, 1, 1),
        defaults={"description": "10 / 15 / 20 % by monthly total"},
    )
    if created:
        CashbackTier.objects.bulk_create(
            CashbackTier(policy=policy, up_to=up_to, percent=percent) for up_to, percent in DEFAULT_TIERS
        )


def remove_default_policy(apps, schema_editor):
    apps.get_model("purchases", "CashbackPolicy").objects.filter(effective_from=date(2000, 1, 1)).delete()


class Migration(migrations.Migration):
    dependencies = [("purchases", "0001_initial")]

    operations = [migrations.RunPython(create_default_policy, remove_default_policy)]
