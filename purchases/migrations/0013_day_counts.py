"""The day counts (DayCounts): each day's purchases per status, filled from
the purchase rows in one INSERT ... SELECT.

Self-contained (the historical models, not purchases.analytics.services),
as 0011. Purchases written by processes still running the previous version
while it runs are not counted: run ``manage.py rebuild_analytics`` once
those processes are gone (docs/operations.md)."""

from django.db import migrations, models
from django.db.models import Count, Q

STATUSES = ("validating", "approved", "rejected")


def backfill(apps, schema_editor):
    alias = schema_editor.connection.alias
    Purchase = apps.get_model("purchases", "Purchase")
    DayCounts = apps.get_model("purchases", "DayCounts")
    rows = (
        Purchase.objects.using(alias)
        .values("date")
        .annotate(**{f"{status}_count": Count("id", filter=Q(status=status)) for status in STATUSES})
        .order_by()
    )
    sql, params = rows.query.sql_with_params()
    quote = schema_editor.connection.ops.quote_name
    columns = ", ".join(quote(name) for name in ("date", *(f"{status}_count" for status in STATUSES)))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(DayCounts._meta.db_table)} ({columns}) {sql}", params)


class Migration(migrations.Migration):
    dependencies = [
        ("purchases", "0012_merge_figures_and_list_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DayCounts",
            fields=[
                ("date", models.DateField(primary_key=True, serialize=False, verbose_name="date")),
                ("validating_count", models.BigIntegerField(default=0)),
                ("approved_count", models.BigIntegerField(default=0)),
                ("rejected_count", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "day counts",
                "verbose_name_plural": "day counts",
                "ordering": ["date"],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
