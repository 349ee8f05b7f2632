import pytest

from accounts.permissions import NOT_A_RESELLER_MESSAGE
from conftest import EN
from products.models import Favorite
from products.services import PRODUCT_INACTIVE_MESSAGE
from products.tests.factories import FavoriteFactory, ProductFactory
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/resellers/me/favorites/"


def detail(product_id) -> str:
    return f"{LIST}{product_id}/"


def test_add_is_201_then_200_with_the_product(reseller, reseller_client):
    product = ProductFactory(price="59.9")
    first = reseller_client.put(detail(product.id))
    assert first.status_code == 201
    assert first.json()["id"] == product.id
    assert first.json()["price"] == "59.90"
    assert first.json()["category"]["id"] == product.category_id
    again = reseller_client.put(detail(product.id))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Favorite.objects.filter(reseller=reseller, product=product).count() == 1


def test_list_shows_own_favourites_newest_first(reseller, reseller_client):
    older, newer = ProductFactory(), ProductFactory()
    reseller_client.put(detail(older.id))
    reseller_client.put(detail(newer.id))
    FavoriteFactory()  # someone else's
    response = reseller_client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [row["id"] for row in body["results"]] == [newer.id, older.id]
    assert set(body["results"][0]) == {"id", "sku", "name", "description", "category", "price", "is_active"}


def test_list_leaves_out_products_deactivated_since(reseller, reseller_client):
    kept = FavoriteFactory(reseller=reseller).product
    gone = FavoriteFactory(reseller=reseller).product
    gone.is_active = False
    gone.save()
    assert [row["id"] for row in reseller_client.get(LIST).json()["results"]] == [kept.id]


def test_remove_is_204_and_idempotent(reseller, reseller_client):
    product = FavoriteFactory(reseller=reseller).product
    assert reseller_client.delete(detail(product.id)).status_code == 204
    assert not Favorite.objects.filter(reseller=reseller).exists()
    assert reseller_client.delete(detail(product.id)).status_code == 204


def test_remove_only_touches_own_favourite(reseller, reseller_client):
    other = FavoriteFactory()
    assert reseller_client.delete(detail(other.product_id)).status_code == 204
    assert Favorite.objects.filter(pk=other.pk).exists()


def test_remove_a_favourite_whose_product_was_deactivated(reseller, reseller_client):
    favorite = FavoriteFactory(reseller=reseller, product__is_active=False)
    assert reseller_client.delete(detail(favorite.product_id)).status_code == 204
    assert not Favorite.objects.exists()


@pytest.mark.parametrize("product_id", [999999, 99999999999999999999999])
def test_unknown_product_is_404(reseller_client, product_id):
    assert reseller_client.put(detail(product_id)).status_code == 404
    assert reseller_client.delete(detail(product_id)).status_code == 404
    assert not Favorite.objects.exists()


def test_inactive_product_cannot_become_a_favourite(reseller_client):
    product = ProductFactory(is_active=False)
    response = reseller_client.put(detail(product.id), **EN)
    assert response.status_code == 400
    assert response.json() == {"product_id": [str(PRODUCT_INACTIVE_MESSAGE)]}
    assert not Favorite.objects.exists()


def test_non_numeric_product_id_is_404(reseller_client):
    assert reseller_client.put(f"{LIST}abc/").status_code == 404


def test_staff_without_reseller_profile_is_403(staff_client):
    product = ProductFactory()
    for response in (
        staff_client.get(LIST),
        staff_client.put(detail(product.id)),
        staff_client.delete(detail(product.id)),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == str(NOT_A_RESELLER_MESSAGE)


def test_anonymous_is_401(api_client):
    product = ProductFactory()
    assert api_client.get(LIST).status_code == 401
    assert api_client.put(detail(product.id)).status_code == 401
    assert api_client.delete(detail(product.id)).status_code == 401


def test_other_methods_are_405(reseller_client):
    product = ProductFactory()
    assert reseller_client.post(detail(product.id)).status_code == 405
    assert reseller_client.post(LIST, {"product": product.id}, format="json").status_code == 405


@pytest.mark.parametrize("size", [1, 25])
def test_list_query_count_is_constant(reseller, reseller_client, django_assert_num_queries, size):
    FavoriteFactory.create_batch(size, reseller=reseller)
    # 1 user with the reseller profile (database-backed auth), 1 count,
    # 1 page of favourites joined with products and categories.
    with django_assert_num_queries(3):
        response = reseller_client.get(LIST, {"page_size": 100})
    assert len(response.json()["results"]) == size


def test_favourites_are_per_reseller(reseller, reseller_client):
    product = ProductFactory()
    other = ResellerFactory()
    FavoriteFactory(reseller=other, product=product)
    assert reseller_client.put(detail(product.id)).status_code == 201
    assert Favorite.objects.filter(product=product).count() == 2
