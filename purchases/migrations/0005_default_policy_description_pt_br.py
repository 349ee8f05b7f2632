"""The default policy's description in Portuguese, the back office's
language. Only while it still holds the text 0002 wrote: a description staff
have since edited is theirs."""

from datetime import date

from django.db import migrations

DEFAULT_POLICY_START = date(2000, 1, 1)
ENGLISH = "10 / 15 / 20 % by monthly total"
PORTUGUESE = "10 / 15 / 20 % conforme o total do mês"


def to_portuguese(apps, schema_editor):
    CashbackPolicy = apps.get_model("purchases", "CashbackPolicy")
    CashbackPolicy.objects.filter(effective_from=DEFAULT_POLICY_START, description=ENGLISH).update(
        description=PORTUGUESE
    )


def to_english(apps, schema_editor):
    CashbackPolicy = apps.get_model("purchases", "CashbackPolicy")
    CashbackPolicy.objects.filter(effective_from=DEFAULT_POLICY_START, description=PORTUGUESE).update(
        description=ENGLISH
    )


class Migration(migrations.Migration):
    dependencies = [("purchases", "0004_code_search_index")]

    operations = [migrations.RunPython(to_portuguese, to_english)]
