"""Fill the analytics figures of an existing database from its purchase rows
(the tiers from its reseller-months): one INSERT ... SELECT per table.

Self-contained (the historical models, not purchases.analytics.services) so
that later changes to the application cannot change what this migration
did. Purchases written by processes still running the previous version
while it runs are not in the figures: run ``manage.py rebuild_analytics``
once those processes are gone (docs/operations.md)."""

from decimal import Decimal

from django.db import migrations
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

STATUSES = ("validating", "approved", "rejected")
COUNTED = ("validating", "approved")
MONEY = DecimalField(max_digits=18, decimal_places=2)
ZERO = Decimal("0.00")


def _insert(schema_editor, model, columns, rows):
    query = rows.query
    assert [*query.values_select, *query.annotation_select] == list(columns)
    sql, params = query.sql_with_params()
    quote = schema_editor.connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns.values())
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({names}) {sql}", params)


def backfill(apps, schema_editor):
    alias = schema_editor.connection.alias
    Purchase = apps.get_model("purchases", "Purchase")
    PurchaseItem = apps.get_model("purchases", "PurchaseItem")
    MonthlyCashback = apps.get_model("purchases", "MonthlyCashback")
    MonthTotals = apps.get_model("purchases", "MonthTotals")
    MonthTierResellers = apps.get_model("purchases", "MonthTierResellers")
    ProductMonthSales = apps.get_model("purchases", "ProductMonthSales")

    month_columns = {"month": "month", "active_resellers": "active_resellers"}
    aggregates = {"active_resellers": Count("reseller", distinct=True)}
    for status in STATUSES:
        only = Q(status=status)
        aggregates[f"{status}_count"] = Count("id", filter=only)
        aggregates[f"{status}_value"] = Coalesce(Sum("value", filter=only), Value(ZERO), output_field=MONEY)
        aggregates[f"{status}_cashback"] = Coalesce(
            Sum("cashback_value", filter=only), Value(ZERO), output_field=MONEY
        )
        month_columns |= {f"{status}_{figure}": f"{status}_{figure}" for figure in ("count", "value", "cashback")}
    months = (
        Purchase.objects.using(alias)
        .annotate(month=TruncMonth("date"))
        .values("month")
        .annotate(**aggregates)
        .order_by()
    )
    _insert(schema_editor, MonthTotals, month_columns, months)

    tiers = (
        MonthlyCashback.objects.using(alias)
        .values("month", "cashback_percent")
        .annotate(tier_resellers=Count("id"))
        .order_by()
    )
    _insert(
        schema_editor,
        MonthTierResellers,
        {"month": "month", "cashback_percent": "percent", "tier_resellers": "resellers"},
        tiers,
    )

    products = (
        PurchaseItem.objects.using(alias)
        .filter(purchase__status__in=COUNTED)
        .annotate(month=TruncMonth("purchase__date"))
        .values("product_id", "month")
        .annotate(units=Sum("quantity"), sales_value=Sum(F("unit_price") * F("quantity"), output_field=MONEY))
        .order_by()
    )
    _insert(
        schema_editor,
        ProductMonthSales,
        {"product_id": "product", "month": "month", "units": "quantity", "sales_value": "total_value"},
        products,
    )


def empty(apps, schema_editor):
    alias = schema_editor.connection.alias
    apps.get_model("purchases", "ProductMonthSales").objects.using(alias).all().delete()
    apps.get_model("purchases", "MonthTierResellers").objects.using(alias).all().delete()
    apps.get_model("purchases", "MonthTotals").objects.using(alias).all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("purchases", "0010_analytics_figures"),
    ]

    operations = [migrations.RunPython(backfill, empty)]
