from django import forms
from django.contrib import admin, messages
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ModelAdmin
from products.models import Category, Product
from products.services import catalogue_invalidate, product_bulk_set_active, sku_normalize


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["sku", "name", "description", "category", "price", "is_active"]

    def clean_sku(self):
        # Normalised before the form's unique check, so "abc-1" meets "ABC-1".
        return sku_normalize(self.cleaned_data["sku"])


class CatalogueAdmin(ModelAdmin):
    """The admin writes through ModelForms; these hooks add what the services
    do after a write: the cached catalogue is invalidated once the admin's
    transaction commits."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalogue_invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        catalogue_invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        catalogue_invalidate()


@admin.register(Category)
class CategoryAdmin(CatalogueAdmin):
    feminine_name = True  # "categoria"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(CatalogueAdmin):
    form = ProductAdminForm
    list_display = ["sku", "name", "category", "price_display", "is_active"]
    list_filter = ["is_active", "category"]
    search_fields = ["sku", "name"]
    list_select_related = ["category"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["activate", "deactivate"]

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, product):
        # As the input shows it: "R$ 1.299,90".
        return "R$ " + formats.number_format(product.price, 2, use_l10n=True, force_grouping=True)

    @admin.action(description=_("Activate selected products"), permissions=["change"])
    def activate(self, request, queryset):
        changed = self._set_active(queryset, is_active=True)
        message = ngettext("%(count)d product activated.", "%(count)d products activated.", changed)
        self.message_user(request, message % {"count": changed}, messages.SUCCESS)

    @admin.action(description=_("Deactivate selected products"), permissions=["change"])
    def deactivate(self, request, queryset):
        changed = self._set_active(queryset, is_active=False)
        message = ngettext("%(count)d product deactivated.", "%(count)d products deactivated.", changed)
        self.message_user(request, message % {"count": changed}, messages.SUCCESS)

    @staticmethod
    def _set_active(queryset, *, is_active: bool) -> int:
        return product_bulk_set_active(product_ids=queryset.values_list("pk", flat=True), is_active=is_active)
