"""A trigram index for the search by code (``?search=``, the admin search):
``icontains`` is ``UPPER(code::text) LIKE UPPER('%term%')``, which no B-tree
can serve. PostgreSQL only (pg_trgm ships with it); on other databases the
search scans, which is fine at their sizes. Not a model index because its
expression and operator class exist on PostgreSQL only."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS purchases_code_trgm_idx "
        "ON purchases_purchase USING gin ((UPPER(code::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS purchases_code_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("purchases", "0003_list_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
