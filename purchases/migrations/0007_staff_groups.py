"""The staff's usual roles as groups, each with the permissions the admin and
the staff API ask for that work. Staff get access by joining groups (users
admin, "Grupos"); superusers hold every permission without them.

Rerunning adds what is missing and takes nothing away: permissions staff
later add to a group stay. Reversing deletes the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    # Review purchases: the purchase list and pages, approve / reject, and
    # the resellers (name, e-mail, month) behind them.
    "Revisores": [
        "purchases.view_purchase",
        "purchases.review_purchase",
        "resellers.view_reseller",
    ],
    # Manage the catalogue.
    "Catálogo": [
        "products.view_product",
        "products.add_product",
        "products.change_product",
        "products.delete_product",
        "products.view_category",
        "products.add_category",
        "products.change_category",
        "products.delete_category",
    ],
    # Read the numbers: the analytics (API and admin page), the purchases
    # and the resellers they are made of.
    "Relatórios": [
        "purchases.view_analytics",
        "purchases.view_purchase",
        "resellers.view_reseller",
    ],
    # Record, correct and delete purchases on a reseller's behalf (the API's
    # staff routes; in the admin purchases are read-only).
    "Lançamento de compras": [
        "purchases.view_purchase",
        "purchases.add_purchase",
        "purchases.change_purchase",
        "purchases.delete_purchase",
        "resellers.view_reseller",
    ],
    # See the resellers' CPFs (personal data: give it only to who needs it).
    "Dados pessoais (CPF)": [
        "resellers.view_reseller",
        "resellers.view_reseller_cpf",
    ],
}


def _permissions(apps, using, names):
    # On a fresh database the permissions do not exist yet (Django creates
    # them after the last migration): create those of these apps now, as
    # post_migrate will (it then finds them and adds nothing).
    for app_label in sorted({name.split(".")[0] for name in names}):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    found = {}
    for permission in Permission.objects.using(using).select_related("content_type"):
        found[f"{permission.content_type.app_label}.{permission.codename}"] = permission
    return [found[name] for name in names]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    using = schema_editor.connection.alias
    every_name = sorted({name for names in GROUPS.values() for name in names})
    permissions = dict(zip(every_name, _permissions(apps, using, every_name), strict=True))
    for group_name, names in GROUPS.items():
        group, _created = Group.objects.using(using).get_or_create(name=group_name)
        group.permissions.add(*(permissions[name] for name in names))


def delete_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("products", "0001_initial"),
        ("resellers", "0002_cpf_permission"),
        ("purchases", "0006_review_and_analytics_permissions"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
