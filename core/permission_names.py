"""Permission names in the project's language.

Django names a model's permissions "Can add <verbose_name_raw>" in English
when it creates them after ``migrate``, and never renames them; the user and
group pages list those names. After every ``migrate`` this renames, in the
language of ``LANGUAGE_CODE``, the default ones ("Pode adicionar favorito")
and the custom ones (``Meta.permissions`` names marked with ``gettext_noop``
and translated in the catalogue). A name an operator changed by hand is
left alone: only Django's own English name is replaced."""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop

# Django's default actions, "Can add …", as the project words them.
ACTION_NAMES = {
    "add": gettext_noop("Can add %(name)s"),
    "change": gettext_noop("Can change %(name)s"),
    "delete": gettext_noop("Can delete %(name)s"),
    "view": gettext_noop("Can view %(name)s"),
}


def _wanted_names(model) -> dict[str, tuple[str, str]]:
    """codename -> (Django's English name, the name in the site's language)."""
    opts = model._meta
    wanted = {}
    for action in opts.default_permissions:
        english = f"Can {action} {opts.verbose_name_raw}"
        template = ACTION_NAMES.get(action)
        if template is not None:
            wanted[f"{action}_{opts.model_name}"] = (
                english,
                translation.gettext(template) % {"name": opts.verbose_name},
            )
    for codename, english in opts.permissions:
        wanted[codename] = (english, translation.gettext(english))
    return wanted


def rename_permissions(sender, app_config=None, using="default", apps=None, **kwargs) -> None:
    """A ``post_migrate`` receiver, run after auth's ``create_permissions``."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    if app_config is None or app_config.models_module is None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        for model in app_config.get_models():
            content_type = ContentType.objects.db_manager(using).get_for_model(
                model, for_concrete_model=False
            )
            for codename, (english, name) in _wanted_names(model).items():
                name = name[: Permission._meta.get_field("name").max_length]
                (
                    Permission.objects.using(using)
                    .filter(content_type=content_type, codename=codename, name=english)
                    .exclude(name=name)
                    .update(name=name)
                )
