"""The admin's lists of tens of thousands of rows (users, resellers): every
page offered, deep ones read ids first then the page's rows alone, with the
same rows and columns as a plain slice; the users' list without facets."""

from datetime import date

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from core import pagination
from core.pagination import DeferredJoinPaginator
from resellers.models import Reseller
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]
USERS = "/admin/accounts/user/"
RESELLERS = "/admin/resellers/reseller/"


@pytest.fixture
def deep_from_the_second_page(monkeypatch):
    """Pages of three, read ids first from the fourth row on."""
    from accounts.admin import UserAdmin
    from purchases.analytics.reseller_admin import ResellerMonthAdmin

    monkeypatch.setattr(UserAdmin, "list_per_page", 3)
    monkeypatch.setattr(ResellerMonthAdmin, "list_per_page", 3)
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_FROM", 3)


def ids_first(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"]]


def test_the_deferred_join_paginator_pages_as_djangos():
    queryset = User.objects.none()
    assert DeferredJoinPaginator(queryset, 10).count == 0
    assert list(DeferredJoinPaginator(queryset, 10).page(1)) == []


@pytest.mark.usefixtures("deep_from_the_second_page")
def test_a_deep_page_of_users_reads_the_ids_first(admin_client, admin_user):
    password = make_password(None)
    User.objects.bulk_create(
        User(email=f"u{n:02}@example.com", full_name=f"U {n}", password=password) for n in range(8)
    )
    emails = list(User.objects.order_by("email").values_list("email", flat=True))
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS, {"p": "2"})
    assert [user.email for user in response.context["cl"].result_list] == emails[3:6]
    [walk] = ids_first(queries)
    assert walk.startswith('SELECT "accounts_user"."id" AS "pk" FROM "accounts_user"')
    # The first page in one query, as Django reads it.
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS)
    assert [user.email for user in response.context["cl"].result_list] == emails[:3]
    assert ids_first(queries) == []
    # And the last, short one.
    response = admin_client.get(USERS, {"p": "3"})
    assert [user.email for user in response.context["cl"].result_list] == emails[6:]


@pytest.mark.usefixtures("deep_from_the_second_page", "default_cashback_policy")
def test_a_deep_page_of_resellers_keeps_the_month_columns(admin_client, make_purchase):
    resellers = [ResellerFactory() for _ in range(7)]
    make_purchase(resellers[2], "600.00", date(2026, 3, 10))
    expected = list(Reseller.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(RESELLERS, {"p": "2"})
    rows = response.context["cl"].result_list
    assert [reseller.pk for reseller in rows] == expected[3:6]
    [walk] = ids_first(queries)
    assert '"purchases_monthlycashback"' not in walk.partition(" WHERE ")[2]  # the ids alone
    buyer = next(reseller for reseller in rows if reseller.pk == resellers[2].pk)
    assert buyer.month_total_value == 600
    assert "R$ 600,00" in response.content.decode()


def test_the_users_list_counts_no_facets(admin_client):
    UserFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS, {"_facets": "True"})
    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "FILTER (WHERE" in q["sql"] or "CASE WHEN" in q["sql"]]
    assert "_facets" not in admin_client.get(USERS).content.decode()  # no "show counts" toggle


@pytest.mark.parametrize(
    ("term", "expected"),
    [("maria", ["maria@example.com", "x@mariana.com"]), ("SOUZA", ["maria@example.com"])],
)
def test_users_are_found_by_name_or_email(admin_client, term, expected):
    UserFactory(email="maria@example.com", full_name="Ana Souza")
    UserFactory(email="x@mariana.com", full_name="Beto")
    UserFactory(email="z@example.com", full_name="Caio")
    response = admin_client.get(USERS, {"q": term})
    assert sorted(user.email for user in response.context["cl"].result_list) == expected
