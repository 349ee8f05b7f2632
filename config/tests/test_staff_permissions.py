"""The staff API honours the Django permissions the admin asks for.

``STAFF_OPERATIONS`` is the rule, written once: every staff operation of the
published schema and the permissions it needs. The walk below proves each
one through the real routes: a staff user without them is refused (403,
nothing changes), one holding exactly them succeeds. Every operation of the
schema must be listed either there or in ``OTHER_OPERATIONS``, so a route
added later cannot be forgotten.
"""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client
from core.models import Job
from products.models import Category, Product
from products.tests.factories import CategoryFactory, ProductFactory
from purchases.models import MonthlyCashback, Purchase, PurchaseItem
from resellers.models import Reseller
from resellers.tests.factories import ResellerFactory

pytestmark = pytest.mark.django_db

VIEW_PURCHASE = "purchases.view_purchase"
REVIEW_PURCHASE = "purchases.review_purchase"
VIEW_ANALYTICS = "purchases.view_analytics"
VIEW_RESELLER = "resellers.view_reseller"

STAFF_OPERATIONS: dict[tuple[str, str], frozenset[str]] = {
    # Resellers
    ("GET", "/api/v1/resellers/"): frozenset({VIEW_RESELLER}),
    ("GET", "/api/v1/resellers/{id}/"): frozenset({VIEW_RESELLER}),
    ("GET", "/api/v1/resellers/{id}/cashback/"): frozenset({VIEW_RESELLER}),
    # Purchases: reading, recording on a reseller's behalf, reviewing
    ("GET", "/api/v1/purchases/"): frozenset({VIEW_PURCHASE}),
    ("POST", "/api/v1/purchases/"): frozenset({"purchases.add_purchase"}),
    ("GET", "/api/v1/purchases/{id}/"): frozenset({VIEW_PURCHASE}),
    ("PUT", "/api/v1/purchases/{id}/"): frozenset({"purchases.change_purchase"}),
    ("PATCH", "/api/v1/purchases/{id}/"): frozenset({"purchases.change_purchase"}),
    ("DELETE", "/api/v1/purchases/{id}/"): frozenset({"purchases.delete_purchase"}),
    # The answer is the purchase: reviewers read what they review (in the
    # admin too, the review buttons sit on pages that need view_purchase).
    ("POST", "/api/v1/purchases/{id}/approve/"): frozenset({VIEW_PURCHASE, REVIEW_PURCHASE}),
    ("POST", "/api/v1/purchases/{id}/reject/"): frozenset({VIEW_PURCHASE, REVIEW_PURCHASE}),
    # An export's file is purchases: reading them is what it needs.
    ("POST", "/api/v1/purchases/exports/"): frozenset({VIEW_PURCHASE}),
    # Catalogue management (reading it is open to every authenticated user)
    ("POST", "/api/v1/products/"): frozenset({"products.add_product"}),
    ("PUT", "/api/v1/products/{id}/"): frozenset({"products.change_product"}),
    ("PATCH", "/api/v1/products/{id}/"): frozenset({"products.change_product"}),
    ("DELETE", "/api/v1/products/{id}/"): frozenset({"products.delete_product"}),
    ("POST", "/api/v1/categories/"): frozenset({"products.add_category"}),
    ("PUT", "/api/v1/categories/{id}/"): frozenset({"products.change_category"}),
    ("PATCH", "/api/v1/categories/{id}/"): frozenset({"products.change_category"}),
    ("DELETE", "/api/v1/categories/{id}/"): frozenset({"products.delete_category"}),
    # Analytics
    ("GET", "/api/v1/analytics/summary/"): frozenset({VIEW_ANALYTICS}),
    ("GET", "/api/v1/analytics/monthly/"): frozenset({VIEW_ANALYTICS}),
    ("GET", "/api/v1/analytics/top-resellers/"): frozenset({VIEW_ANALYTICS}),
    ("GET", "/api/v1/analytics/top-products/"): frozenset({VIEW_ANALYTICS}),
}

# Operations no staff permission governs: open to anyone, to every
# authenticated user, or to resellers on their own data.
OTHER_OPERATIONS = {
    ("POST", "/api/v1/auth/token/"),
    ("POST", "/api/v1/auth/token/refresh/"),
    ("POST", "/api/v1/auth/logout/"),
    ("GET", "/api/v1/auth/me/"),
    ("POST", "/api/v1/auth/password/change/"),
    ("POST", "/api/v1/auth/password/reset/"),
    ("POST", "/api/v1/auth/password/reset/confirm/"),
    ("POST", "/api/v1/resellers/"),
    ("GET", "/api/v1/resellers/me/"),
    ("PATCH", "/api/v1/resellers/me/"),
    ("GET", "/api/v1/resellers/me/cashback/"),
    ("GET", "/api/v1/resellers/me/summary/"),
    ("GET", "/api/v1/resellers/me/favorites/"),
    ("PUT", "/api/v1/resellers/me/favorites/{product_id}/"),
    ("DELETE", "/api/v1/resellers/me/favorites/{product_id}/"),
    ("GET", "/api/v1/products/"),
    ("GET", "/api/v1/products/{id}/"),
    ("GET", "/api/v1/categories/"),
    ("GET", "/api/v1/categories/{id}/"),
    # A staff member's own jobs, while they hold the permission the job's
    # result needs (core/tests/test_jobs.py).
    ("GET", "/api/v1/jobs/{id}/"),
    ("GET", "/api/v1/jobs/{id}/download/"),
}

STAFF_KEYS = sorted(STAFF_OPERATIONS)
OPERATION_IDS = [f"{method} {path}" for method, path in STAFF_KEYS]


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _schema_operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield (method.upper(), path), operation


def test_every_operation_of_the_schema_is_classified(schema):
    operations = {key for key, _operation in _schema_operations(schema)}
    unclassified = operations - STAFF_OPERATIONS.keys() - OTHER_OPERATIONS
    assert not unclassified, f"say who may call these: {sorted(unclassified)}"
    gone = (STAFF_OPERATIONS.keys() | OTHER_OPERATIONS) - operations
    assert not gone, f"no longer in the schema: {sorted(gone)}"


def test_every_staff_operation_documents_its_403_and_the_permissions_it_needs(schema):
    for key, operation in _schema_operations(schema):
        if key not in STAFF_OPERATIONS:
            continue
        response = operation["responses"].get("403")
        assert response is not None, key
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        named = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", response["description"]))
        assert named == STAFF_OPERATIONS[key], (key, response["description"])


# --- The walk -----------------------------------------------------------------


class World:
    """What the routes act on: a reseller with a purchase in validation, a
    product nobody bought in a category, and an empty category."""

    def __init__(self, make_purchase):
        self.reseller = ResellerFactory()
        self.purchase = make_purchase(self.reseller, "100.00", code="NF-1")
        self.category = CategoryFactory()
        self.product = ProductFactory(category=self.category)
        self.empty_category = CategoryFactory()

    def request(self, method: str, path: str) -> tuple[str, dict | None]:
        """The concrete URL and a valid body for an operation of the schema."""
        today = timezone.localdate().isoformat()
        ids = {
            "/api/v1/resellers/{id}/": self.reseller.pk,
            "/api/v1/resellers/{id}/cashback/": self.reseller.pk,
            "/api/v1/purchases/{id}/": self.purchase.pk,
            "/api/v1/purchases/{id}/approve/": self.purchase.pk,
            "/api/v1/purchases/{id}/reject/": self.purchase.pk,
            "/api/v1/products/{id}/": self.product.pk,
            "/api/v1/categories/{id}/": self.empty_category.pk if method == "DELETE" else self.category.pk,
        }
        url = path.replace("{id}", str(ids[path])) if "{id}" in path else path
        bodies = {
            ("POST", "/api/v1/purchases/"): {
                "code": "NF-STAFF",
                "value": "50.00",
                "date": today,
                "cpf": self.reseller.cpf,
            },
            ("PUT", "/api/v1/purchases/{id}/"): {"code": "NF-1", "value": "120.00", "date": today},
            ("PATCH", "/api/v1/purchases/{id}/"): {"value": "130.00"},
            ("POST", "/api/v1/purchases/{id}/reject/"): {"reason": "Nota ilegível."},
            ("POST", "/api/v1/purchases/exports/"): {"status": "validating", "dialect": "pt-BR"},
            ("POST", "/api/v1/products/"): {
                "sku": "NEW-0001",
                "name": "Batom Novo",
                "category": self.category.pk,
                "price": "29.90",
            },
            ("PUT", "/api/v1/products/{id}/"): {
                "sku": self.product.sku,
                "name": "Batom Renomeado",
                "category": self.category.pk,
                "price": "31.90",
            },
            ("PATCH", "/api/v1/products/{id}/"): {"price": "32.90"},
            ("POST", "/api/v1/categories/"): {"name": "Maquiagem"},
            ("PUT", "/api/v1/categories/{id}/"): {"name": "Perfumaria"},
            ("PATCH", "/api/v1/categories/{id}/"): {"name": "Cabelos"},
        }
        return url, bodies.get((method, path))


def send(client, method: str, url: str, body):
    return getattr(client, method.lower())(url, body, format="json") if body else client.generic(method, url)


def snapshot() -> dict:
    """Every row a staff route could write."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Purchase, PurchaseItem, MonthlyCashback, Product, Category, Reseller, Job)
    }


@pytest.fixture
def world(make_purchase):
    return World(make_purchase)


def _refused(response):
    assert response.status_code == 403, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path"), STAFF_KEYS, ids=OPERATION_IDS)
def test_staff_without_permissions_are_refused_and_nothing_changes(world, method, path):
    client = authenticated_client(StaffFactory())
    url, body = world.request(method, path)
    before = snapshot()

    _refused(send(client, method, url, body))

    assert snapshot() == before


@pytest.mark.parametrize(("method", "path"), STAFF_KEYS, ids=OPERATION_IDS)
def test_every_permission_but_a_needed_one_is_not_enough(world, method, path):
    needed = STAFF_OPERATIONS[(method, path)]
    url, body = world.request(method, path)
    for missing in sorted(needed):
        staff = StaffFactory()
        others = Permission.objects.exclude(
            content_type__app_label=missing.split(".")[0], codename=missing.split(".")[1]
        )
        staff.user_permissions.add(*others)
        before = snapshot()

        _refused(send(authenticated_client(staff), method, url, body))

        assert snapshot() == before, missing


@pytest.mark.parametrize(("method", "path"), STAFF_KEYS, ids=OPERATION_IDS)
def test_staff_with_exactly_the_needed_permissions_succeed(world, method, path):
    client = authenticated_client(StaffFactory(permissions=STAFF_OPERATIONS[(method, path)]))
    url, body = world.request(method, path)

    response = send(client, method, url, body)

    assert 200 <= response.status_code < 300, response.content


def test_a_reseller_keeps_their_own_purchases(world, reseller, reseller_client, make_purchase):
    own = make_purchase(reseller, "80.00", code="OWN-1")
    listed = reseller_client.get("/api/v1/purchases/").json()
    assert [row["id"] for row in listed["results"]] == [own.pk]
    patched = reseller_client.patch(f"/api/v1/purchases/{own.pk}/", {"value": "81.00"}, format="json")
    assert patched.status_code == 200
    assert reseller_client.get(f"/api/v1/purchases/{world.purchase.pk}/").status_code == 404
    assert reseller_client.post(f"/api/v1/purchases/{own.pk}/approve/").status_code == 403
    assert reseller_client.delete(f"/api/v1/purchases/{own.pk}/").status_code == 204


# --- The groups the data migration creates ------------------------------------

GROUPS = {
    "Revisores": {VIEW_PURCHASE, REVIEW_PURCHASE, VIEW_RESELLER},
    "Catálogo": {
        f"products.{verb}_{model}"
        for verb in ("view", "add", "change", "delete")
        for model in ("product", "category")
    },
    "Relatórios": {VIEW_ANALYTICS, VIEW_PURCHASE, VIEW_RESELLER},
    "Lançamento de compras": {
        VIEW_PURCHASE,
        "purchases.add_purchase",
        "purchases.change_purchase",
        "purchases.delete_purchase",
        VIEW_RESELLER,
    },
    "Dados pessoais (CPF)": {VIEW_RESELLER, "resellers.view_reseller_cpf"},
}


def test_the_groups_exist_after_migrate_with_their_permissions():
    found = {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }
    assert found == GROUPS


# What each group is for, through the API (what each operation needs is
# proven above, operation by operation).
GROUP_OPERATIONS = {
    "Revisores": [("POST", "/api/v1/purchases/{id}/approve/"), ("GET", "/api/v1/resellers/{id}/")],
    "Catálogo": [("POST", "/api/v1/products/"), ("DELETE", "/api/v1/categories/{id}/")],
    "Relatórios": [("GET", "/api/v1/analytics/summary/"), ("GET", "/api/v1/purchases/")],
    "Lançamento de compras": [("POST", "/api/v1/purchases/"), ("PATCH", "/api/v1/purchases/{id}/")],
    "Dados pessoais (CPF)": [("GET", "/api/v1/resellers/")],
}


@pytest.mark.parametrize("group_name", sorted(GROUP_OPERATIONS))
def test_a_group_member_does_what_the_group_is_for(world, group_name):
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name=group_name))
    client = authenticated_client(staff)
    for method, path in GROUP_OPERATIONS[group_name]:
        url, body = world.request(method, path)
        response = send(client, method, url, body)
        assert 200 <= response.status_code < 300, (method, path, response.content)


def test_the_cpf_group_shows_cpfs_and_the_reviewers_do_not(world):
    shown = {}
    for group_name in ["Dados pessoais (CPF)", "Revisores"]:
        staff = StaffFactory()
        staff.groups.add(Group.objects.get(name=group_name))
        detail = authenticated_client(staff).get(f"/api/v1/resellers/{world.reseller.pk}/").json()
        shown[group_name] = detail["cpf"]
    assert shown == {"Dados pessoais (CPF)": world.reseller.cpf_formatted, "Revisores": None}
