"""Races on favourites and catalogue deletes, against PostgreSQL (row locks
mean nothing on SQLite)."""

import pytest

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client, run_together
from products.models import Favorite, Product
from products.tests.factories import ProductFactory
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_adds_of_one_favourite_make_one_row():
    reseller = ResellerFactory()
    product = ProductFactory()
    clients = [authenticated_client(reseller.user) for _ in range(4)]
    url = f"/api/v1/resellers/me/favorites/{product.id}/"

    responses = run_together(*(lambda client=client: client.put(url) for client in clients))

    assert sorted(response.status_code for response in responses) == [200, 200, 200, 201]
    assert Favorite.objects.filter(reseller=reseller, product=product).count() == 1


def test_a_favourite_added_while_the_product_is_deleted_never_breaks():
    product = ProductFactory()
    reseller_client = authenticated_client(ResellerFactory().user)
    staff_client = authenticated_client(StaffFactory(permissions=["products.delete_product"]))
    url = f"/api/v1/products/{product.id}/"

    added, deleted = run_together(
        lambda: reseller_client.put(f"/api/v1/resellers/me/favorites/{product.id}/"),
        lambda: staff_client.delete(url),
    )

    assert deleted.status_code == 204
    assert added.status_code in (201, 404)
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not Favorite.objects.exists()
