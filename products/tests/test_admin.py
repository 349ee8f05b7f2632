from decimal import Decimal

import pytest
from django.urls import reverse

from core.cache import CATALOGUE as CATALOGUE_CACHE_NAMESPACE
from core.cache import get_version
from products.models import Category, Product
from products.tests.factories import CategoryFactory, ProductFactory
from purchases.services import ItemInput

pytestmark = pytest.mark.django_db


def product_form(product_or_category, **overrides):
    data = {
        "sku": "ADM-1",
        "name": "Produto",
        "description": "",
        "category": product_or_category.pk,
        "price": "10.00",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_product_changelist_and_search(admin_client):
    ProductFactory.create_batch(3)
    ProductFactory(sku="FIND-ME")
    url = reverse("admin:products_product_changelist")
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(url, {"q": "find-me", "is_active__exact": "1"})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [Product.objects.get(sku="FIND-ME")]


def test_product_changelist_query_count_is_constant(admin_client, django_assert_max_num_queries):
    ProductFactory.create_batch(30)
    # Categories come with the products (list_select_related), not one by one.
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("admin:products_product_changelist")).status_code == 200


def test_admin_add_normalises_the_sku_and_refuses_a_duplicate_in_another_case(admin_client):
    category = CategoryFactory()
    url = reverse("admin:products_product_add")
    response = admin_client.post(url, product_form(category, sku=" adm-1 "))
    assert response.status_code == 302
    assert Product.objects.get().sku == "ADM-1"
    response = admin_client.post(url, product_form(category, sku="Adm-1"))
    assert response.status_code == 200
    assert "sku" in response.context["adminform"].form.errors
    assert Product.objects.count() == 1


@pytest.mark.parametrize("price", ["0", "-1", "1.001"])
def test_admin_refuses_bad_prices(admin_client, price):
    response = admin_client.post(
        reverse("admin:products_product_add"), product_form(CategoryFactory(), price=price)
    )
    assert response.status_code == 200
    assert "price" in response.context["adminform"].form.errors
    assert not Product.objects.exists()


def test_admin_edit_invalidates_the_catalogue_cache(
    admin_client, reseller_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(price="10.00")
    api_url = f"/api/v1/products/{product.id}/"
    assert reseller_client.get(api_url).json()["price"] == "10.00"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:products_product_change", args=[product.pk]),
            product_form(product.category, sku=product.sku, price="64.90"),
        )
    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).price == Decimal("64.90")
    assert reseller_client.get(api_url).json()["price"] == "64.90"


def test_admin_delete_invalidates_the_catalogue_cache(admin_client, django_capture_on_commit_callbacks):
    product = ProductFactory()
    before = get_version(CATALOGUE_CACHE_NAMESPACE)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:products_product_delete", args=[product.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Product.objects.exists()
    assert get_version(CATALOGUE_CACHE_NAMESPACE) > before


def test_admin_cannot_delete_a_product_used_in_purchases(admin_client, make_purchase):
    product = ProductFactory()
    make_purchase(items=[ItemInput(product=product, quantity=1)])
    response = admin_client.post(reverse("admin:products_product_delete", args=[product.pk]), {"post": "yes"})
    assert response.status_code == 200  # the "protected objects" page
    assert Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize(("action", "start", "end"), [("deactivate", True, False), ("activate", False, True)])
def test_admin_actions_switch_products_and_invalidate(
    admin_client, django_capture_on_commit_callbacks, action, start, end
):
    products = ProductFactory.create_batch(2, is_active=start)
    untouched = ProductFactory(is_active=start)
    before = get_version(CATALOGUE_CACHE_NAMESPACE)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:products_product_changelist"),
            {"action": action, "_selected_action": [product.pk for product in products]},
        )
    assert response.status_code == 302
    assert set(Product.objects.filter(is_active=end).values_list("pk", flat=True)) == {p.pk for p in products}
    assert Product.objects.get(pk=untouched.pk).is_active is start
    assert get_version(CATALOGUE_CACHE_NAMESPACE) > before


def test_category_admin_add_invalidates(admin_client, django_capture_on_commit_callbacks):
    before = get_version(CATALOGUE_CACHE_NAMESPACE)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:products_category_add"), {"name": "Perfumaria", "slug": "perfumaria"}
        )
    assert response.status_code == 302
    assert Category.objects.filter(slug="perfumaria").exists()
    assert get_version(CATALOGUE_CACHE_NAMESPACE) > before
    assert admin_client.get(reverse("admin:products_category_changelist")).status_code == 200


def test_category_admin_refuses_to_delete_a_category_with_products(admin_client):
    product = ProductFactory()
    response = admin_client.post(
        reverse("admin:products_category_delete", args=[product.category_id]), {"post": "yes"}
    )
    assert response.status_code == 200
    assert Category.objects.filter(pk=product.category_id).exists()


@pytest.mark.parametrize(
    ("typed", "saved"), [("29,90", "29.90"), ("1.299,90", "1299.90"), ("29.90", "29.90")]
)
def test_admin_reads_prices_the_brazilian_way_and_shows_them_so(admin_client, typed, saved):
    response = admin_client.post(
        reverse("admin:products_product_add"), product_form(CategoryFactory(), price=typed)
    )
    assert response.status_code == 302
    product = Product.objects.get()
    assert product.price == Decimal(saved)
    page = admin_client.get(reverse("admin:products_product_change", args=[product.pk])).content.decode()
    shown = f"{product.price:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    assert f'name="price" value="{shown}"' in page


@pytest.mark.parametrize(("typed", "hint"), [("2.990", "ambíguo"), ("1,2,3", "1.299,90")])
def test_admin_refuses_ambiguous_or_malformed_prices_with_a_hint(admin_client, typed, hint):
    response = admin_client.post(
        reverse("admin:products_product_add"), product_form(CategoryFactory(), price=typed)
    )
    assert response.status_code == 200
    assert hint in str(response.context["adminform"].form.errors["price"])
    assert not Product.objects.exists()


# The SKUs the API refuses, which the admin used to save.
REFUSED_SKUS = ["sku com espaço", "ÇÃO-01", "<b>x</b>", "X" * 65, "Ç" * 64, "ABC\n1"]


@pytest.mark.parametrize("sku", REFUSED_SKUS)
def test_admin_refuses_the_skus_the_api_refuses_in_portuguese(admin_client, staff_client, sku):
    category = CategoryFactory()
    response = admin_client.post(reverse("admin:products_product_add"), product_form(category, sku=sku))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["sku"])
    assert "letras sem acento" in errors or "caracteres" in errors  # the rule, or the length
    assert not Product.objects.exists()
    api = staff_client.post(
        "/api/v1/products/",
        {"sku": sku, "name": "Produto", "category": category.pk, "price": "10.00"},
        format="json",
    )
    assert api.status_code == 400
    assert list(api.json()) == ["sku"]


def test_admin_and_api_accept_the_longest_sku():
    # 64 unaccented letters is the limit for both.
    category = CategoryFactory()
    product = ProductFactory.build(sku="a" * 64, category=category)
    product.full_clean(validate_unique=False)
    assert product.sku == "A" * 64


def test_admin_changing_a_product_with_a_legacy_sku_must_fix_it(admin_client):
    product = ProductFactory(sku="SKU COM ESPAÇO")  # saved before the rule reached the admin
    data = product_form(product.category, sku=product.sku, price="10,00")
    response = admin_client.post(reverse("admin:products_product_change", args=[product.pk]), data)
    assert response.status_code == 200
    assert "sku" in response.context["adminform"].form.errors


def test_category_admin_collapses_spaces_and_lowercases_the_slug_as_the_api(admin_client):
    CategoryFactory(name="Perfumaria Fina", slug="perfumaria-fina")
    url = reverse("admin:products_category_add")
    response = admin_client.post(url, {"name": "  Perfumaria   Fina ", "slug": "outra"})
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    response = admin_client.post(url, {"name": "Maquiagem", "slug": "MAQUIAGEM"})
    assert response.status_code == 302
    assert Category.objects.get(name="Maquiagem").slug == "maquiagem"


@pytest.mark.parametrize("slug", ["com espaço", "ação", "<b>x</b>"])
def test_category_admin_refuses_the_slugs_the_api_refuses(admin_client, slug):
    response = admin_client.post(reverse("admin:products_category_add"), {"name": "Maquiagem", "slug": slug})
    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
