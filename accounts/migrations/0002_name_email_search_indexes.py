"""Trigram indexes for the searches by name or e-mail (the users' and the
resellers' admin, and the purchases' admin, which looks the resellers up
first): ``icontains`` is ``UPPER(column::text) LIKE UPPER('%term%')``, which
no B-tree can serve, so at 50,000 users each search read the whole table.
PostgreSQL only (pg_trgm ships with it; purchases 0004 uses it too); on other
databases the search scans, which is fine at their sizes. Not model indexes
because their expression and operator class exist on PostgreSQL only.
Built in about a second at 50,000 users."""

from django.db import migrations

INDEXES = {
    "accounts_user_email_trgm_idx": "email",
    "accounts_user_name_trgm_idx": "full_name",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON accounts_user USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
