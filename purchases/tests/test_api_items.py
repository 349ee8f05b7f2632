from decimal import Decimal

import pytest

from conftest import EN
from products.tests.factories import ProductFactory
from purchases.models import Purchase, PurchaseItem
from purchases.services import (
    DUPLICATE_PRODUCT_MESSAGE,
    NOT_EDITABLE_MESSAGE,
    VALUE_MISMATCH_MESSAGE,
    purchase_approve,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

URL = "/api/v1/purchases/"


@pytest.fixture
def lipstick(db):
    return ProductFactory(sku="LIP-01", name="Batom", price=Decimal("39.90"))


@pytest.fixture
def perfume(db):
    return ProductFactory(sku="PERF-01", name="Perfume", price=Decimal("199.99"))


def post(client, headers=None, **data):
    return client.post(URL, {"code": "NF-1", "date": "2026-03-19", **data}, **(headers or {}))


def test_value_is_computed_from_the_items(reseller_client, lipstick, perfume):
    response = post(
        reseller_client,
        items=[{"product": lipstick.id, "quantity": 3}, {"product": perfume.id, "quantity": 1}],
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["value"] == "319.69"  # 3 x 39.90 + 199.99
    assert body["cashback_value"] == "31.97"  # 31.969 half-up
    assert body["items"] == [
        {
            "product": lipstick.id,
            "sku": "LIP-01",
            "name": "Batom",
            "quantity": 3,
            "unit_price": "39.90",
            "total": "119.70",
        },
        {
            "product": perfume.id,
            "sku": "PERF-01",
            "name": "Perfume",
            "quantity": 1,
            "unit_price": "199.99",
            "total": "199.99",
        },
    ]


def test_a_matching_value_is_accepted(reseller_client, lipstick):
    response = post(reseller_client, value="79.80", items=[{"product": lipstick.id, "quantity": 2}])
    assert response.status_code == 201


def test_a_value_that_does_not_match_the_items_is_400(reseller_client, lipstick):
    response = post(
        reseller_client, value="80.00", items=[{"product": lipstick.id, "quantity": 2}], headers=EN
    )
    assert response.status_code == 400
    assert response.json() == {"value": [VALUE_MISMATCH_MESSAGE % {"total": Decimal("79.80")}]}
    assert not Purchase.objects.exists()


def test_the_unit_price_is_the_catalogue_price_at_purchase_time(reseller_client, lipstick):
    post(reseller_client, items=[{"product": lipstick.id, "quantity": 1}])
    lipstick.price = Decimal("99.00")
    lipstick.save()
    item = PurchaseItem.objects.get()
    assert item.unit_price == Decimal("39.90")
    assert Purchase.objects.get().value == Decimal("39.90")


@pytest.mark.parametrize(
    "items",
    [
        [{"product": 999999, "quantity": 1}],
        [{"product": "abc", "quantity": 1}],
        [{"quantity": 1}],
        [{"product": None, "quantity": 1}],
        [{"product": "LIPSTICK", "quantity": 0}],
        [{"product": "LIPSTICK", "quantity": -1}],
        [{"product": "LIPSTICK", "quantity": 1.5}],
        [{"product": "LIPSTICK"}],
        ["nonsense"],
        {"product": "LIPSTICK", "quantity": 1},
    ],
)
def test_bad_items_are_400(reseller_client, lipstick, items):
    def resolve(entry):
        if isinstance(entry, dict) and entry.get("product") == "LIPSTICK":
            return {**entry, "product": lipstick.id}
        return entry

    items = [resolve(entry) for entry in items] if isinstance(items, list) else resolve(items)
    response = post(reseller_client, items=items)
    assert response.status_code == 400, response.json()
    assert "items" in response.json()
    assert not Purchase.objects.exists()


def test_an_inactive_product_cannot_be_bought(reseller_client):
    retired = ProductFactory(is_active=False)
    response = post(reseller_client, items=[{"product": retired.id, "quantity": 1}])
    assert response.status_code == 400
    assert "items" in response.json()
    assert not Purchase.objects.exists()


def test_the_same_product_twice_is_400(reseller_client, lipstick):
    response = post(
        reseller_client,
        items=[{"product": lipstick.id, "quantity": 1}, {"product": lipstick.id, "quantity": 2}],
        headers=EN,
    )
    assert response.status_code == 400
    assert response.json() == {"items": [str(DUPLICATE_PRODUCT_MESSAGE)]}


def test_items_over_the_maximum_value_are_400(reseller_client):
    jewel = ProductFactory(price=Decimal("600000.00"))
    response = post(reseller_client, items=[{"product": jewel.id, "quantity": 2}])
    assert response.status_code == 400
    assert "items" in response.json()


def test_items_are_editable_while_validating(reseller_client, lipstick, perfume):
    purchase_id = post(reseller_client, items=[{"product": lipstick.id, "quantity": 1}]).json()["id"]
    response = reseller_client.patch(
        f"{URL}{purchase_id}/", {"items": [{"product": perfume.id, "quantity": 2}]}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["value"] == "399.98"
    assert [item["product"] for item in response.json()["items"]] == [perfume.id]


def test_editing_the_value_of_a_purchase_with_items_must_match_them(reseller_client, lipstick):
    purchase_id = post(reseller_client, items=[{"product": lipstick.id, "quantity": 1}]).json()["id"]
    assert reseller_client.patch(f"{URL}{purchase_id}/", {"value": "10.00"}).status_code == 400
    assert reseller_client.patch(f"{URL}{purchase_id}/", {"value": "39.90"}).status_code == 200


def test_an_empty_item_list_removes_the_items_and_keeps_the_value(reseller_client, lipstick):
    purchase_id = post(reseller_client, items=[{"product": lipstick.id, "quantity": 1}]).json()["id"]
    response = reseller_client.patch(f"{URL}{purchase_id}/", {"items": []})
    assert response.status_code == 200
    assert (response.json()["items"], response.json()["value"]) == ([], "39.90")


def test_items_are_not_editable_after_review(reseller, reseller_client, staff_user, lipstick, perfume):
    purchase_id = post(reseller_client, items=[{"product": lipstick.id, "quantity": 1}]).json()["id"]
    purchase_approve(purchase=Purchase.objects.get(pk=purchase_id), reviewer=staff_user)
    response = reseller_client.patch(
        f"{URL}{purchase_id}/", {"items": [{"product": perfume.id, "quantity": 5}]}, **EN
    )
    assert response.status_code == 409
    assert response.json()["detail"] == str(NOT_EDITABLE_MESSAGE)
    assert list(PurchaseItem.objects.values_list("product_id", "quantity")) == [(lipstick.id, 1)]


@pytest.mark.parametrize("rows", [1, 60])
def test_list_with_items_keeps_a_constant_query_count(
    reseller, reseller_client, django_assert_num_queries, rows, lipstick, perfume
):
    for index in range(rows):
        post(
            reseller_client,
            code=f"I{index}",
            items=[{"product": lipstick.id, "quantity": 1}, {"product": perfume.id, "quantity": 1}],
        )
    # user with the reseller profile, count, page, items joined with their
    # products (a full page: one that is not says the count without counting)
    with django_assert_num_queries(4):
        response = reseller_client.get(URL, {"page_size": rows})
    assert len(response.json()["results"]) == rows
    assert all(len(row["items"]) == 2 for row in response.json()["results"])


REQUIRED = "This field is required."
NOT_A_LIST = 'Expected a list of items but got type "dict".'
NOT_AN_OBJECT = "Invalid data. Expected a dictionary, but got list."


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize(
    ("items", "errors"),
    [
        ([{"quantity": 1}], {"0": {"product": [REQUIRED]}}),
        ([{"product": "lipstick"}], {"0": {"quantity": [REQUIRED]}}),
        ([{}], {"0": {"product": [REQUIRED], "quantity": [REQUIRED]}}),
        ([{"product": "lipstick", "quantity": 1}, {"quantity": 2}], {"1": {"product": [REQUIRED]}}),
    ],
)
def test_an_incomplete_item_is_400_naming_what_is_missing(
    reseller_client, lipstick, perfume, method, items, errors
):
    # PATCH changes the purchase's fields it names, but an item it sends is a
    # whole item: the partial update does not reach inside the list.
    purchase_id = post(reseller_client, items=[{"product": perfume.id, "quantity": 1}]).json()["id"]
    items = [{**item, "product": lipstick.id} if "product" in item else item for item in items]
    body = {"items": items} if method == "patch" else {"code": "NF-1", "date": "2026-03-19", "items": items}
    response = getattr(reseller_client, method)(f"{URL}{purchase_id}/", body, **EN)
    assert response.status_code == 400, response.content
    assert response.json() == {"items": errors}
    assert list(PurchaseItem.objects.values_list("product_id", "quantity")) == [(perfume.id, 1)]


@pytest.mark.parametrize(
    ("items", "errors"),
    [
        ({"product": 1, "quantity": 1}, {"non_field_errors": [NOT_A_LIST]}),
        ([None], {"0": ["This field may not be null."]}),
        ([[{"quantity": 1}]], {"0": {"non_field_errors": [NOT_AN_OBJECT]}}),
    ],
)
def test_a_partial_update_with_misshapen_items_is_400(reseller_client, perfume, items, errors):
    purchase_id = post(reseller_client, items=[{"product": perfume.id, "quantity": 1}]).json()["id"]
    response = reseller_client.patch(f"{URL}{purchase_id}/", {"items": items}, **EN)
    assert response.status_code == 400, response.content
    assert response.json() == {"items": errors}


def test_an_unknown_product_says_which_one_at_its_item(reseller_client, lipstick):
    response = post(
        reseller_client, items=[{"product": lipstick.id, "quantity": 1}, {"product": 999999, "quantity": 1}]
    )
    assert response.status_code == 400
    # DRF's shape for errors in list items: keyed by the item's index.
    assert response.json() == {"items": {"1": {"product": ["Produto inexistente ou inativo: 999999."]}}}


def test_an_inactive_product_says_which_one_at_its_item(reseller_client):
    retired = ProductFactory(is_active=False)
    response = post(reseller_client, items=[{"product": retired.id, "quantity": 1}], headers=EN)
    assert response.status_code == 400
    assert response.json() == {
        "items": {"0": {"product": [f"No such product, or it is inactive: {retired.id}."]}}
    }
