import factory
from django.contrib.auth.models import Permission
from django.db.models import Q

from accounts.models import User

PASSWORD = "s3nha-Forte-2024"


def permissions_named(names) -> list[Permission]:
    """The Permission rows of ``names`` ("app_label.codename"); every one must exist."""
    names = set(names)
    condition = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        condition |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(condition).select_related("content_type"))
    missing = names - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    assert not missing, f"no such permission: {sorted(missing)}"
    return found


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name", locale="pt_BR")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class StaffFactory(UserFactory):
    """A staff login holding no permission unless given some:
    ``StaffFactory(permissions=["purchases.view_purchase"])``."""

    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    is_staff = True

    @factory.post_generation
    def permissions(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.user_permissions.add(*permissions_named(extracted))
