from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import EN
from core.filters import UNKNOWN_ORDERING_MESSAGE
from products.filters import PRICE_RANGE_MESSAGE
from products.models import Favorite, Product
from products.services import PRODUCT_DEACTIVATED_MESSAGE, SKU_FORMAT_MESSAGE, SKU_TAKEN_MESSAGE
from products.tests.factories import CategoryFactory, FavoriteFactory, ProductFactory
from purchases.models import PurchaseItem
from purchases.services import ItemInput

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def detail(product_id) -> str:
    return f"{LIST}{product_id}/"


def payload(category, /, **overrides):
    data = {
        "sku": "PERF-0001",
        "name": "Colônia Floral 100 ml",
        "description": "Fragrância floral suave.",
        "category": category.id,
        "price": "59.90",
    }
    data.update(overrides)
    return data


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- Reading -------------------------------------------------------------------


def test_list_shape_and_money_as_string(reseller_client):
    category = CategoryFactory(name="Perfumaria", slug="perfumaria")
    product = ProductFactory(
        sku="PERF-1", name="Colônia", description="Floral", category=category, price="59.9"
    )
    response = reseller_client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"] == [
        {
            "id": product.id,
            "sku": "PERF-1",
            "name": "Colônia",
            "description": "Floral",
            "category": {"id": category.id, "name": "Perfumaria", "slug": "perfumaria"},
            "price": "59.90",
            "is_active": True,
        }
    ]


def test_list_requires_authentication(api_client):
    ProductFactory()
    assert api_client.get(LIST).status_code == 401
    assert api_client.get(detail(ProductFactory().id)).status_code == 401


def test_list_rejects_a_garbage_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert api_client.get(LIST).status_code == 401


def test_list_is_ordered_by_name_by_default(reseller_client):
    ProductFactory(name="Batom")
    ProductFactory(name="Amaciante")
    ProductFactory(name="Creme")
    names = [row["name"] for row in reseller_client.get(LIST).json()["results"]]
    assert names == ["Amaciante", "Batom", "Creme"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("price", ["b", "c", "a"]), ("-price", ["a", "c", "b"]), ("name", ["a", "b", "c"])],
)
def test_list_ordering(reseller_client, ordering, expected):
    ProductFactory(name="a", price="30.00")
    ProductFactory(name="b", price="10.00")
    ProductFactory(name="c", price="20.00")
    response = reseller_client.get(LIST, {"ordering": ordering})
    assert [row["name"] for row in response.json()["results"]] == expected


def test_list_ordering_by_created_at(reseller_client):
    first, second = ProductFactory(name="z"), ProductFactory(name="a")
    Product.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert ids(reseller_client.get(LIST, {"ordering": "created_at"})) == [first.id, second.id]
    assert ids(reseller_client.get(LIST, {"ordering": "-created_at"})) == [second.id, first.id]


def test_list_refuses_an_unknown_ordering(reseller_client):
    response = reseller_client.get(LIST, {"ordering": "description,nope"}, **EN)
    assert response.status_code == 400
    assert response.json() == {
        "ordering": [
            UNKNOWN_ORDERING_MESSAGE % {"allowed": "name, -name, price, -price, created_at, -created_at"}
        ]
    }


def test_pages_with_equal_prices_neither_repeat_nor_skip(reseller_client):
    products = ProductFactory.create_batch(7, price="10.00")
    seen = []
    for page in (1, 2, 3, 4):
        seen += ids(reseller_client.get(LIST, {"ordering": "price", "page_size": 2, "page": page}))
    assert sorted(seen) == sorted(product.id for product in products)


def test_filter_by_category(reseller_client):
    category = CategoryFactory()
    wanted = ProductFactory(category=category)
    ProductFactory()
    assert ids(reseller_client.get(LIST, {"category": category.id})) == [wanted.id]
    assert reseller_client.get(LIST, {"category": 999999}).json()["count"] == 0


@pytest.mark.parametrize("term", ["floral", "FLORAL", "perf-77", "Perf"])
def test_search_by_name_or_sku(reseller_client, term):
    wanted = ProductFactory(name="Colônia Floral", sku="PERF-77")
    ProductFactory(name="Batom", sku="BAT-1")
    assert ids(reseller_client.get(LIST, {"search": term})) == [wanted.id]


def test_price_range(reseller_client):
    cheap = ProductFactory(price="10.00")
    middle = ProductFactory(price="50.00")
    ProductFactory(price="100.00")
    assert set(ids(reseller_client.get(LIST, {"min_price": "10", "max_price": "50.00"}))) == {
        cheap.id,
        middle.id,
    }
    assert ids(reseller_client.get(LIST, {"min_price": "50.01", "max_price": "99.99"})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "abc"},
        {"max_price": "1,5"},
        {"min_price": "NaN"},
        {"max_price": "Infinity"},
        {"category": "abc"},
        {"category": "1.5"},
        {"category": "99999999999999999999999999"},
        {"page_size": "abc"},
    ],
)
def test_bad_filters_are_400_or_ignored_never_500(reseller_client, params):
    ProductFactory()
    response = reseller_client.get(LIST, params)
    assert response.status_code in (200, 400)
    if "page_size" not in params:
        assert response.status_code == 400
        assert set(response.json()) == set(params)


def test_min_price_above_max_price_is_400(reseller_client):
    response = reseller_client.get(LIST, {"min_price": "50", "max_price": "10"}, **EN)
    assert response.status_code == 400
    assert response.json() == {"max_price": [str(PRICE_RANGE_MESSAGE)]}


def test_huge_price_filter_is_not_a_500(reseller_client):
    ProductFactory(price="10.00")
    response = reseller_client.get(LIST, {"min_price": "1e400"})
    assert response.status_code in (200, 400)


def test_inactive_products_are_hidden_from_resellers(reseller_client):
    active = ProductFactory()
    inactive = ProductFactory(is_active=False)
    assert ids(reseller_client.get(LIST)) == [active.id]
    assert reseller_client.get(detail(inactive.id)).status_code == 404


def test_resellers_cannot_reveal_inactive_products_with_the_filter(reseller_client):
    active = ProductFactory()
    ProductFactory(is_active=False)
    assert ids(reseller_client.get(LIST, {"is_active": "false"})) == [active.id]


def test_staff_see_inactive_products_and_filter_by_them(staff_client):
    active = ProductFactory(name="a")
    inactive = ProductFactory(name="b", is_active=False)
    assert ids(staff_client.get(LIST)) == [active.id, inactive.id]
    assert ids(staff_client.get(LIST, {"is_active": "false"})) == [inactive.id]
    assert ids(staff_client.get(LIST, {"is_active": "true"})) == [active.id]
    assert staff_client.get(detail(inactive.id)).json()["is_active"] is False


def test_detail(reseller_client):
    product = ProductFactory(price="12.5")
    response = reseller_client.get(detail(product.id))
    assert response.status_code == 200
    assert response.json()["price"] == "12.50"
    assert response.json()["category"]["id"] == product.category_id


@pytest.mark.parametrize("product_id", ["999999", "99999999999999999999999"])
def test_unknown_product_is_json_404(reseller_client, product_id):
    response = reseller_client.get(detail(product_id))
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("size", [1, 25])
@pytest.mark.parametrize("client_fixture", ["reseller_client", "staff_client"])
def test_list_query_count_is_constant(request, django_assert_num_queries, size, client_fixture):
    client = request.getfixturevalue(client_fixture)
    ProductFactory.create_batch(size)
    # Cache cold. No user query: reads are authenticated from the token alone.
    # 1 count, 1 page of products joined with their categories.
    with django_assert_num_queries(2):
        response = client.get(LIST, {"page_size": 100})
    assert len(response.json()["results"]) == size


def test_detail_query_count(reseller_client, django_assert_num_queries):
    product = ProductFactory()
    # Cache cold: 1 product joined with its category.
    with django_assert_num_queries(1):
        assert reseller_client.get(detail(product.id)).status_code == 200


# --- Writing -------------------------------------------------------------------


def test_staff_creates_a_product_with_normalised_sku(staff_client):
    category = CategoryFactory()
    response = staff_client.post(LIST, payload(category, sku="perf-0001"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sku"] == "PERF-0001"
    assert body["price"] == "59.90"
    assert body["is_active"] is True
    assert body["category"]["id"] == category.id
    product = Product.objects.get(pk=body["id"])
    assert (product.sku, product.price) == ("PERF-0001", Decimal("59.90"))


def test_create_without_description_gives_an_empty_one(staff_client):
    data = payload(CategoryFactory())
    del data["description"]
    response = staff_client.post(LIST, data, format="json")
    assert response.status_code == 201
    assert response.json()["description"] == ""


@pytest.mark.parametrize("sku", ["PERF-0001", "perf-0001", "Perf-0001"])
def test_create_rejects_a_duplicate_sku_in_any_case(staff_client, sku):
    ProductFactory(sku="PERF-0001")
    response = staff_client.post(LIST, payload(CategoryFactory(), sku=sku), format="json", **EN)
    assert response.status_code == 400
    assert response.json() == {"sku": [str(SKU_TAKEN_MESSAGE)]}
    assert Product.objects.count() == 1


@pytest.mark.parametrize(
    # The API takes the SKU exactly (the schema's pattern): blanks around it
    # and letters that only upper-case into ASCII (long s is "S") are refused.
    "sku",
    ["PERF 0001", "perf/1", "ação", "", "   ", "X" * 65, " PERF-0001", "PERF-0001\n", "\u017fKU-1"],
)
def test_create_rejects_a_malformed_sku(staff_client, sku):
    response = staff_client.post(LIST, payload(CategoryFactory(), sku=sku), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["sku"]
    assert not Product.objects.exists()


def test_malformed_sku_message(staff_client):
    response = staff_client.post(LIST, payload(CategoryFactory(), sku="A B"), format="json", **EN)
    assert response.json() == {"sku": [str(SKU_FORMAT_MESSAGE)]}


@pytest.mark.parametrize(
    "price", ["0", "0.00", "-1.00", "59.999", "abc", "", None, "NaN", "-Infinity", "10000000000.00"]
)
def test_create_rejects_bad_prices(staff_client, price):
    response = staff_client.post(LIST, payload(CategoryFactory(), price=price), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["price"]
    assert not Product.objects.exists()


def test_create_accepts_the_largest_price(staff_client):
    response = staff_client.post(LIST, payload(CategoryFactory(), price="9999999999.99"), format="json")
    assert response.status_code == 201
    assert response.json()["price"] == "9999999999.99"


@pytest.mark.parametrize("field", ["sku", "name", "category", "price"])
def test_create_requires_fields(staff_client, field):
    data = payload(CategoryFactory())
    del data[field]
    response = staff_client.post(LIST, data, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_create_rejects_bad_names(staff_client, name):
    response = staff_client.post(LIST, payload(CategoryFactory(), name=name), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


@pytest.mark.parametrize("category", [999999, "abc", None])
def test_create_rejects_unknown_category(staff_client, category):
    response = staff_client.post(LIST, payload(CategoryFactory(), category=category), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["category"]


def test_create_rejects_non_json_and_malformed_bodies(staff_client):
    assert (
        staff_client.post(LIST, "sku=x", content_type="application/x-www-form-urlencoded").status_code == 415
    )
    assert staff_client.post(LIST, '{"sku": ', content_type="application/json").status_code == 400
    assert staff_client.post(LIST, [1, 2], format="json").status_code == 400
    assert not Product.objects.exists()


def test_resellers_cannot_write(reseller_client):
    product = ProductFactory()
    category = CategoryFactory()
    assert reseller_client.post(LIST, payload(category), format="json").status_code == 403
    assert reseller_client.put(detail(product.id), payload(category), format="json").status_code == 403
    assert reseller_client.patch(detail(product.id), {"price": "1.00"}, format="json").status_code == 403
    assert reseller_client.delete(detail(product.id)).status_code == 403
    assert Product.objects.get(pk=product.pk).price == product.price


def test_anonymous_cannot_write(api_client):
    product = ProductFactory()
    assert api_client.post(LIST, payload(CategoryFactory()), format="json").status_code == 401
    assert api_client.patch(detail(product.id), {"price": "1.00"}, format="json").status_code == 401
    assert api_client.delete(detail(product.id)).status_code == 401
    assert Product.objects.filter(pk=product.pk).exists()


def test_a_demoted_staff_member_cannot_write_with_an_old_token(staff_user, staff_client):
    """Writes authenticate against the database, not the token's claim."""
    staff_user.is_staff = False
    staff_user.save(update_fields=["is_staff"])
    assert staff_client.post(LIST, payload(CategoryFactory()), format="json").status_code == 403


def test_staff_patch_changes_only_the_given_fields(staff_client):
    product = ProductFactory(price="10.00", description="keep me")
    response = staff_client.patch(detail(product.id), {"price": "64.90", "sku": "new-sku"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["price"] == "64.90"
    assert response.json()["sku"] == "NEW-SKU"
    product.refresh_from_db()
    assert (product.price, product.sku, product.description) == (Decimal("64.90"), "NEW-SKU", "keep me")


def test_patch_keeps_own_sku_in_another_case(staff_client):
    product = ProductFactory(sku="ABC-1")
    response = staff_client.patch(detail(product.id), {"sku": "abc-1"}, format="json")
    assert response.status_code == 200


def test_patch_rejects_another_products_sku(staff_client):
    ProductFactory(sku="ABC-1")
    product = ProductFactory(sku="ABC-2")
    response = staff_client.patch(detail(product.id), {"sku": "abc-1"}, format="json", **EN)
    assert response.status_code == 400
    assert response.json() == {"sku": [str(SKU_TAKEN_MESSAGE)]}
    product.refresh_from_db()
    assert product.sku == "ABC-2"


@pytest.mark.parametrize("data", [{"price": "0"}, {"price": "1.001"}, {"name": ""}, {"category": 999999}])
def test_patch_rejects_bad_values_and_changes_nothing(staff_client, data):
    product = ProductFactory()
    before = Product.objects.values().get(pk=product.pk)
    response = staff_client.patch(detail(product.id), data, format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(data)
    assert Product.objects.values().get(pk=product.pk) == before


def test_staff_reactivates_a_product(staff_client):
    product = ProductFactory(is_active=False)
    response = staff_client.patch(detail(product.id), {"is_active": True}, format="json")
    assert response.status_code == 200
    assert Product.objects.get(pk=product.pk).is_active


def test_staff_put_replaces_a_product(staff_client):
    product = ProductFactory(description="old", is_active=False)
    category = CategoryFactory()
    data = payload(category, sku="put-1", name="New name", price="5.00")
    del data["description"]
    response = staff_client.put(detail(product.id), data, format="json")
    assert response.status_code == 200, response.json()
    product.refresh_from_db()
    assert (product.sku, product.name, product.price, product.category_id) == (
        "PUT-1",
        "New name",
        Decimal("5.00"),
        category.id,
    )
    # Omitted optional fields keep their values.
    assert (product.description, product.is_active) == ("old", False)


def test_put_requires_the_required_fields(staff_client):
    product = ProductFactory()
    response = staff_client.put(detail(product.id), {"price": "5.00"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"sku", "name", "category"}


def test_staff_write_to_unknown_product_is_404(staff_client):
    assert staff_client.patch(detail(999999), {"price": "1.00"}, format="json").status_code == 404
    assert staff_client.delete(detail(999999)).status_code == 404


def test_staff_deletes_an_unused_product(staff_client):
    product = ProductFactory()
    FavoriteFactory(product=product)
    response = staff_client.delete(detail(product.id))
    assert response.status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not Favorite.objects.exists()


def test_a_product_used_in_purchases_is_deactivated_not_deleted(staff_client, make_purchase):
    product = ProductFactory()
    item = make_purchase(items=[ItemInput(product=product, quantity=2)]).items.get()
    response = staff_client.delete(detail(product.id), **EN)
    assert response.status_code == 200
    body = response.json()
    assert body["detail"] == str(PRODUCT_DEACTIVATED_MESSAGE)
    assert body["product"]["id"] == product.id
    assert body["product"]["is_active"] is False
    product.refresh_from_db()
    assert product.is_active is False
    assert PurchaseItem.objects.filter(pk=item.pk, product=product).exists()


def test_deleting_a_used_product_twice_answers_the_same(staff_client, make_purchase):
    product = ProductFactory()
    make_purchase(items=[ItemInput(product=product, quantity=1)])
    assert staff_client.delete(detail(product.id)).status_code == 200
    assert staff_client.delete(detail(product.id)).status_code == 200
    assert Product.objects.filter(pk=product.pk, is_active=False).exists()


def test_deactivated_product_disappears_for_resellers(staff_client, reseller_client, make_purchase):
    product = ProductFactory()
    make_purchase(items=[ItemInput(product=product, quantity=1)])
    staff_client.delete(detail(product.id))
    assert reseller_client.get(detail(product.id)).status_code == 404


@pytest.mark.parametrize("client_fixture", ["reseller_client", "staff_client"])
def test_head_and_options_answer(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    product = ProductFactory()
    assert client.head(LIST).status_code == 200
    assert client.head(detail(product.id)).status_code == 200
    assert client.options(LIST).status_code == 200
    assert client.options(detail(product.id)).status_code == 200


def test_a_price_with_a_decimal_comma_says_the_expected_format(staff_client):
    response = staff_client.post(LIST, payload(CategoryFactory(), price="59,90"), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "price": ['Use ponto como separador decimal, sem separador de milhares, por exemplo "150.50".']
    }
    assert not Product.objects.exists()
