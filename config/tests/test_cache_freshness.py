"""Every write path leaves the next read fresh: each cached answer (the
catalogue, the purchase lists, the analytics) is read once to fill the cache,
the data is changed through one of the ways the project writes it (the API,
the admin, the seed), and the same read answers the change. core.cache lists
the namespaces and what invalidates them; this walks the writers."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from conftest import _clear_cache as clear_cache
from conftest import authenticated_client
from products.tests.factories import ProductFactory
from purchases.models import Purchase
from purchases.services import ItemInput
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/purchases/"
PRODUCTS = "/api/v1/products/"
SUMMARY = "/api/v1/analytics/summary/"


@pytest.fixture(autouse=True)
def caches_on(settings):
    settings.PRODUCTS_CACHE_SECONDS = 300
    settings.ANALYTICS_CACHE_SECONDS = 300
    settings.LIST_COUNT_CACHE_SECONDS = 0  # the count's own short window is tested elsewhere


@pytest.fixture
def world(make_purchase):
    reseller = ResellerFactory(user__full_name="Ana Antes")
    staff = StaffFactory(is_superuser=True)
    product = ProductFactory(name="Batom Antes")
    purchase = make_purchase(reseller, items=[ItemInput(product=product, quantity=2)], code="P-1")
    return {
        "reseller": reseller,
        "staff": staff,
        "product": product,
        "purchase": purchase,
        "reseller_client": authenticated_client(reseller.user),
        "staff_client": authenticated_client(staff),
    }


def _reads(world) -> dict:
    """Every cached answer this test watches, as its client reads it."""
    reseller_client, staff_client = world["reseller_client"], world["staff_client"]
    return {
        "reseller list": reseller_client.get(PURCHASES).json(),
        "staff list": staff_client.get(PURCHASES).json(),
        "products": reseller_client.get(PRODUCTS).json(),
        "analytics": staff_client.get(SUMMARY).json(),
    }


# Each writer changes the data through one path and names the answers that
# must show it.
def api_reseller_creates(world, client, **_):
    today = timezone.localdate().isoformat()
    response = world["reseller_client"].post(PURCHASES, {"code": "P-2", "value": "30.00", "date": today})
    assert response.status_code == 201
    return {"reseller list", "staff list", "analytics"}


def api_staff_approves(world, **_):
    response = world["staff_client"].post(f"{PURCHASES}{world['purchase'].pk}/approve/")
    assert response.status_code == 200
    return {"reseller list", "staff list", "analytics"}


def api_reseller_deletes(world, **_):
    assert world["reseller_client"].delete(f"{PURCHASES}{world['purchase'].pk}/").status_code == 204
    return {"reseller list", "staff list", "analytics"}


def api_staff_renames_the_product(world, **_):
    response = world["staff_client"].patch(
        f"{PRODUCTS}{world['product'].pk}/", {"name": "Batom Depois"}, format="json"
    )
    assert response.status_code == 200
    return {"products", "reseller list", "staff list"}


def api_reseller_renames_themselves(world, **_):
    response = world["reseller_client"].patch("/api/v1/resellers/me/", {"full_name": "Ana Depois"})
    assert response.status_code == 200
    return {"staff list"}


def admin_renames_the_product(world, client, **_):
    product = world["product"]
    response = client.post(
        f"/admin/products/product/{product.pk}/change/",
        {
            "sku": product.sku,
            "name": "Batom Depois",
            "description": product.description,
            "category": product.category_id,
            "price": str(product.price),
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    return {"products", "reseller list", "staff list"}


def admin_deactivates_the_product(world, client, **_):
    response = client.post(
        "/admin/products/product/",
        {"action": "deactivate", "_selected_action": [world["product"].pk]},
    )
    assert response.status_code == 302
    return {"products"}


def admin_approves_in_bulk(world, client, **_):
    response = client.post(
        "/admin/purchases/purchase/",
        {"action": "approve_selected", "_selected_action": [world["purchase"].pk]},
    )
    assert response.status_code == 302
    assert Purchase.objects.get(pk=world["purchase"].pk).status == Purchase.Status.APPROVED
    return {"reseller list", "staff list", "analytics"}


def admin_renames_the_user(world, client, **_):
    user = world["reseller"].user
    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "email": user.email,
            "full_name": "Ana Depois",
            "is_active": "on",
            "date_joined_0": timezone.localdate().isoformat(),
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content
    return {"staff list"}


def seed_writes_more(world, **_):
    call_command(
        "seed",
        resellers=2,
        purchases=6,
        products=3,
        months=1,
        no_progress=True,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    return {"staff list", "products", "analytics"}


WRITERS = [
    api_reseller_creates,
    api_staff_approves,
    api_reseller_deletes,
    api_staff_renames_the_product,
    api_reseller_renames_themselves,
    admin_renames_the_product,
    admin_deactivates_the_product,
    admin_approves_in_bulk,
    admin_renames_the_user,
    seed_writes_more,
]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda writer: writer.__name__)
def test_the_next_read_after_a_write_is_fresh(world, writer, client, django_capture_on_commit_callbacks):
    client.force_login(world["staff"])
    before = _reads(world)
    assert _reads(world) == before  # served from the cache: the same answers
    with django_capture_on_commit_callbacks(execute=True):
        changed = writer(world, client=client)
    after = _reads(world)
    for name in changed:
        assert after[name] != before[name], f"{writer.__name__}: {name} is stale"
    # And the answers equal what the database says now, cache or not.
    clear_cache()
    assert _reads(world) == after


def test_the_stale_answer_would_be_served_without_invalidation(world, monkeypatch):
    """The test above can fail: with invalidation switched off, the cached
    catalogue survives a write."""
    from core import cache as answers

    before = _reads(world)
    monkeypatch.setattr(answers, "invalidate", lambda *namespaces: None)
    api_staff_renames_the_product(world)
    assert _reads(world)["products"] == before["products"]
