"""The catalogue cache: answers are reused without touching the database and
never outlive a committed catalogue change."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from conftest import authenticated_client
from products.models import Product
from products.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
CATEGORIES = "/api/v1/categories/"

REDIS_DOWN = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
    }
}


def product_url(product) -> str:
    return f"{PRODUCTS}{product.id}/"


@pytest.mark.parametrize("client_fixture", ["reseller_client", "staff_client"])
def test_second_identical_list_runs_no_query(request, django_assert_num_queries, client_fixture):
    client = request.getfixturevalue(client_fixture)
    ProductFactory.create_batch(3)
    first = client.get(PRODUCTS, {"search": "product", "ordering": "price"})
    assert first.status_code == 200
    with django_assert_num_queries(0):
        second = client.get(PRODUCTS, {"search": "product", "ordering": "price"})
    assert second.status_code == 200
    assert second.json() == first.json()


def test_second_identical_detail_runs_no_query(reseller_client, django_assert_num_queries):
    product = ProductFactory()
    first = reseller_client.get(product_url(product))
    with django_assert_num_queries(0):
        second = reseller_client.get(product_url(product))
    assert second.json() == first.json()


def test_second_identical_category_list_runs_no_query(reseller_client, django_assert_num_queries):
    CategoryFactory.create_batch(2)
    first = reseller_client.get(CATEGORIES)
    with django_assert_num_queries(0):
        second = reseller_client.get(CATEGORIES)
    assert second.json() == first.json()


def test_parameter_order_does_not_matter(reseller_client, django_assert_num_queries):
    ProductFactory.create_batch(2)
    reseller_client.get(f"{PRODUCTS}?ordering=price&page_size=5")
    with django_assert_num_queries(0):
        assert reseller_client.get(f"{PRODUCTS}?page_size=5&ordering=price").status_code == 200


def test_answers_are_shared_between_users_of_the_same_role(reseller_client, django_assert_num_queries):
    from resellers.tests.factories import ResellerFactory

    ProductFactory()
    reseller_client.get(PRODUCTS)
    other = authenticated_client(ResellerFactory().user)
    with django_assert_num_queries(0):
        assert other.get(PRODUCTS).status_code == 200


def test_staff_and_resellers_never_share_an_answer(staff_client, reseller_client):
    active = ProductFactory(name="a")
    inactive = ProductFactory(name="b", is_active=False)
    assert [row["id"] for row in staff_client.get(PRODUCTS).json()["results"]] == [active.id, inactive.id]
    assert [row["id"] for row in reseller_client.get(PRODUCTS).json()["results"]] == [active.id]
    assert staff_client.get(product_url(inactive)).status_code == 200
    assert reseller_client.get(product_url(inactive)).status_code == 404


def test_errors_are_not_cached(reseller_client, django_assert_num_queries):
    reseller_client.get(f"{PRODUCTS}999999/")
    with django_assert_num_queries(1):
        assert reseller_client.get(f"{PRODUCTS}999999/").status_code == 404


def test_cache_lifetime_comes_from_the_setting(reseller_client, settings, django_assert_num_queries):
    settings.PRODUCTS_CACHE_SECONDS = 0  # expires at once: nothing is reused
    ProductFactory()
    reseller_client.get(PRODUCTS)
    with django_assert_num_queries(2):
        reseller_client.get(PRODUCTS)


def test_no_stale_product_after_an_edit(staff_client, reseller_client, django_capture_on_commit_callbacks):
    product = ProductFactory(price="10.00")
    assert reseller_client.get(product_url(product)).json()["price"] == "10.00"
    assert reseller_client.get(PRODUCTS).json()["results"][0]["price"] == "10.00"
    assert staff_client.get(product_url(product)).json()["price"] == "10.00"

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(product_url(product), {"price": "64.90"}, format="json")
    assert response.status_code == 200

    assert reseller_client.get(product_url(product)).json()["price"] == "64.90"
    assert reseller_client.get(PRODUCTS).json()["results"][0]["price"] == "64.90"
    assert staff_client.get(product_url(product)).json()["price"] == "64.90"


@pytest.mark.django_db(transaction=True)
def test_no_stale_product_after_a_really_committed_edit():
    from accounts.tests.factories import StaffFactory
    from resellers.tests.factories import ResellerFactory

    staff = authenticated_client(StaffFactory(permissions=["products.change_product"]))
    reader = authenticated_client(ResellerFactory().user)
    product = ProductFactory(price="10.00")
    assert reader.get(product_url(product)).json()["price"] == "10.00"
    assert staff.patch(product_url(product), {"price": "64.90"}, format="json").status_code == 200
    assert reader.get(product_url(product)).json()["price"] == "64.90"


def test_new_and_deleted_products_show_at_once(
    staff_client, reseller_client, django_capture_on_commit_callbacks
):
    category = CategoryFactory()
    assert reseller_client.get(PRODUCTS).json()["count"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        created = staff_client.post(
            PRODUCTS, {"sku": "N-1", "name": "Novo", "category": category.id, "price": "1.00"}, format="json"
        )
    assert reseller_client.get(PRODUCTS).json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.delete(f"{PRODUCTS}{created.json()['id']}/")
    assert reseller_client.get(PRODUCTS).json()["count"] == 0


def test_category_changes_show_in_products_at_once(
    staff_client, reseller_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(category__name="Perfumes")
    assert reseller_client.get(product_url(product)).json()["category"]["name"] == "Perfumes"
    assert reseller_client.get(CATEGORIES).json()["results"][0]["name"] == "Perfumes"
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{CATEGORIES}{product.category_id}/", {"name": "Perfumaria"}, format="json")
    assert reseller_client.get(product_url(product)).json()["category"]["name"] == "Perfumaria"
    assert reseller_client.get(CATEGORIES).json()["results"][0]["name"] == "Perfumaria"


def test_a_refused_write_does_not_invalidate(staff_client, django_capture_on_commit_callbacks):
    ProductFactory(sku="DUP-1")
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            PRODUCTS,
            {"sku": "dup-1", "name": "x", "category": CategoryFactory().id, "price": "1.00"},
            format="json",
        )
    assert response.status_code == 400
    assert callbacks == []


def test_a_deactivated_user_reads_until_the_token_expires_but_cannot_write(user):
    """The documented trade-off of token-only authentication for reads."""
    client = authenticated_client(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get(PRODUCTS).status_code == 200
    assert client.delete(f"{PRODUCTS}1/").status_code == 401


@override_settings(CACHES=REDIS_DOWN)
def test_catalogue_answers_from_the_database_when_redis_is_down(
    staff_client, reseller_client, django_capture_on_commit_callbacks
):
    try:
        product = ProductFactory(price="10.00", name="Colônia")
        ProductFactory(is_active=False)

        listed = reseller_client.get(PRODUCTS)
        assert listed.status_code == 200
        assert [(row["id"], row["price"]) for row in listed.json()["results"]] == [(product.id, "10.00")]
        shown = reseller_client.get(product_url(product))
        assert shown.status_code == 200
        assert shown.json()["name"] == "Colônia"
        assert reseller_client.get(CATEGORIES).status_code == 200

        with django_capture_on_commit_callbacks(execute=True):
            patched = staff_client.patch(product_url(product), {"price": "20.00"}, format="json")
            created = staff_client.post(
                PRODUCTS,
                {"sku": "R-1", "name": "Novo", "category": product.category_id, "price": "5.00"},
                format="json",
            )
        assert patched.status_code == 200
        assert created.status_code == 201
        assert Product.objects.get(pk=product.pk).price == 20

        assert reseller_client.get(product_url(product)).json()["price"] == "20.00"
        assert reseller_client.get(PRODUCTS).json()["count"] == 2
    finally:
        caches["default"].close()
