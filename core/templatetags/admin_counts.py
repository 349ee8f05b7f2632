"""The changelist's counts for people: "1.000.000 resultados", and "Selecionar
todas as 1.941 compras" agreeing with the model's grammatical gender (a
ModelAdmin's ``feminine_name``). A count the bounded paginator stopped
(core.pagination.CachedCountPaginator) reads "mais de 10.000" or, for a whole
table, "cerca de 10.000.000"."""

from django import template
from django.utils import formats
from django.utils.translation import gettext, npgettext, pgettext

register = template.Library()


@register.filter
def grouped(number) -> str:
    """1000000 -> "1.000.000" (in English "1,000,000")."""
    return formats.number_format(number, use_l10n=True, force_grouping=True)


@register.simple_tag
def result_count(cl) -> str:
    """The changelist's count as people read it: "1.234"; "mais de 10.000"
    when the count stopped at the rows a page may reach; "cerca de
    10.000.000" when it stopped and the list is a whole table, whose size
    the database estimates."""
    if not getattr(cl, "count_over_bound", False):
        return grouped(cl.result_count)
    if cl.count_estimate is not None:
        return gettext("about %(count)s") % {"count": grouped(cl.count_estimate)}
    return gettext("more than %(count)s") % {"count": grouped(cl.count_bound)}


@register.simple_tag
def select_all_label(cl) -> str:
    count = cl.result_count
    gender = "feminine" if getattr(cl.model_admin, "feminine_name", False) else "masculine"
    if getattr(cl, "count_over_bound", False):
        params = {"count": result_count(cl), "name": cl.opts.verbose_name_plural}
        return pgettext(gender, "Select all %(name)s (%(count)s)") % params
    params = {"count": grouped(count), "name": cl.opts.verbose_name_plural}
    return npgettext(gender, "Select the %(count)s %(name)s", "Select all %(count)s %(name)s", count) % params


@register.simple_tag
def all_selected_note(cl) -> str:
    """What "select all" selected, for a count that stopped at the bound:
    "Todas as compras selecionadas (mais de 10.000)"."""
    gender = "feminine" if getattr(cl.model_admin, "feminine_name", False) else "masculine"
    params = {"count": result_count(cl), "name": cl.opts.verbose_name_plural}
    return pgettext(gender, "All %(name)s selected (%(count)s)") % params
