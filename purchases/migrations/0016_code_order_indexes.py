"""One code in each order the list serves: (code, date, id), (code, value,
id), (code, created_at, id). The staff's search reads the first rows of each
code that contains the term from these ranges and merges them
(purchases.filters.PurchaseFilter.filter_search).

Built CONCURRENTLY on PostgreSQL, as 0011, so purchases are still written
meanwhile: the migration is therefore not atomic."""

from django.db import migrations, models

INDEXES = [
    models.Index(fields=["code", "date", "id"], name="purchases_code_date_id_idx"),
    models.Index(fields=["code", "value", "id"], name="purchases_code_value_id_idx"),
    models.Index(fields=["code", "created_at", "id"], name="purchases_code_created_id_idx"),
]


def _options(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def forwards(apps, schema_editor):
    model = apps.get_model("purchases", "Purchase")
    for index in INDEXES:
        schema_editor.add_index(model, index, **_options(schema_editor))


def backwards(apps, schema_editor):
    model = apps.get_model("purchases", "Purchase")
    for index in INDEXES:
        schema_editor.remove_index(model, index, **_options(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("purchases", "0015_status_order_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
            state_operations=[migrations.AddIndex(model_name="purchase", index=index) for index in INDEXES],
        ),
    ]
