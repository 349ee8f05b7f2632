"""A status, or a month of one, in the list's other orders (value, creation):
the status's range of its own index, the month filtered in the index. Through
the indexes before, a month's rejected purchases ordered by value were a sort
of all of them, which grows with the month (page 100 at 10,000,000
purchases: 2.8 s at p99 under load).

Built CONCURRENTLY on PostgreSQL, as 0011, so purchases are still written
meanwhile: the migration is therefore not atomic."""

from django.db import migrations, models

INDEXES = [
    models.Index(fields=["status", "value", "id"], include=["date"], name="purchases_st_value_id_idx"),
    models.Index(fields=["status", "created_at", "id"], include=["date"], name="purchases_st_created_id_idx"),
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

    dependencies = [("purchases", "0014_code_counts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
            state_operations=[migrations.AddIndex(model_name="purchase", index=index) for index in INDEXES],
        ),
    ]
