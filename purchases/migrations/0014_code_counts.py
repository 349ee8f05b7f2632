"""The code counts (CodeCounts): how many purchases carry each code, filled
from the purchase rows in one INSERT ... SELECT, with a trigram index for the
search's "contains" on PostgreSQL (as 0004 for the purchases: not a model
index, its expression and operator class exist on PostgreSQL only).

Self-contained (the historical models), as 0013. Purchases written by
processes still running the previous version while it runs are not counted:
run ``manage.py rebuild_analytics`` once those processes are gone
(docs/operations.md)."""

from django.db import migrations, models
from django.db.models import Count


def backfill(apps, schema_editor):
    alias = schema_editor.connection.alias
    Purchase = apps.get_model("purchases", "Purchase")
    CodeCounts = apps.get_model("purchases", "CodeCounts")
    rows = Purchase.objects.using(alias).values("code").annotate(purchase_count=Count("id")).order_by()
    sql, params = rows.query.sql_with_params()
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(CodeCounts._meta.db_table)} ({quote('code')}, {quote('purchase_count')}) {sql}",
            params,
        )


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS purchases_codecounts_trgm_idx "
        "ON purchases_codecounts USING gin ((UPPER(code::text)) gin_trgm_ops)"
    )


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS purchases_codecounts_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("purchases", "0013_day_counts"),
    ]

    operations = [
        migrations.CreateModel(
            name="CodeCounts",
            fields=[
                (
                    "code",
                    models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name="code"),
                ),
                ("purchase_count", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "code counts",
                "verbose_name_plural": "code counts",
                "ordering": ["code"],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_search_index, drop_search_index, elidable=False),
    ]
