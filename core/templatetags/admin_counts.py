"""The changelist's counts for people: "1.000.000 resultados", and "Selecionar
todas as 1.941 compras" agreeing with the model's grammatical gender (a
ModelAdmin's ``feminine_name``)."""

from django import template
from django.utils import formats
from django.utils.translation import npgettext

register = template.Library()


@register.filter
def grouped(number) -> str:
    """1000000 -> "1.000.000" (in English "1,000,000")."""
    return formats.number_format(number, use_l10n=True, force_grouping=True)


@register.simple_tag
def select_all_label(cl) -> str:
    count = cl.result_count
    params = {"count": grouped(count), "name": cl.opts.verbose_name_plural}
    gender = "feminine" if getattr(cl.model_admin, "feminine_name", False) else "masculine"
    return npgettext(gender, "Select the %(count)s %(name)s", "Select all %(count)s %(name)s", count) % params
