"""The admin's home page: what needs doing and the month's figures, each
shown to the staff whose permissions cover it."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import StaffFactory
from purchases.services import purchase_approve, purchase_reject
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

HOME = "/admin/"
CHANGELIST = "/admin/purchases/purchase/"


def staff(client, *permissions):
    client.force_login(StaffFactory(permissions=list(permissions)))
    return client


def text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def march(make_purchase, staff_user):
    """March 2026 (the frozen month): Ana 1,500.00 in two purchases (one
    pending), Bia 200.00 (approved), Caio 50.00 rejected; a pending purchase
    of February."""
    ana = ResellerFactory(user__full_name="Ana Souza")
    bia = ResellerFactory(user__full_name="Bia Lima")
    caio = ResellerFactory(user__full_name="Caio Reis")
    make_purchase(ana, "1000.00", date(2026, 3, 2), "A-1")
    purchase_approve(purchase=make_purchase(ana, "500.00", date(2026, 3, 3), "A-2"), reviewer=staff_user)
    purchase_approve(purchase=make_purchase(bia, "200.00", date(2026, 3, 4), "B-1"), reviewer=staff_user)
    purchase_reject(
        purchase=make_purchase(caio, "50.00", date(2026, 3, 5), "C-1"), reviewer=staff_user, reason="Fake"
    )
    make_purchase(bia, "80.00", date(2026, 2, 10), "B-0")
    return {"ana": ana, "bia": bia, "caio": caio}


def test_the_home_says_how_many_purchases_wait_and_links_to_them(client, march):
    response = staff(client, "purchases.view_purchase").get(HOME)
    assert response.status_code == 200
    assert "2 compras aguardam revisão" in text(response)
    assert f'href="{CHANGELIST}?status__exact=validating"' in response.content.decode()
    # Figures need the analytics permission.
    assert "até agora" not in text(response)


def test_with_nothing_pending_the_home_says_so(client, db):
    response = staff(client, "purchases.view_purchase").get(HOME)
    assert "Nenhuma compra aguarda revisão." in text(response)


def test_the_home_shows_the_months_totals_tiers_and_top_resellers(client, march):
    response = staff(client, "purchases.view_analytics").get(HOME)
    content, shown = response.content.decode(), text(response)
    assert "Março de 2026 até agora" in shown or "março de 2026 até agora" in shown.lower()
    # Not rejected: 1,000 + 500 + 200 in three purchases.
    assert "Compras (não reprovadas) 3 " in shown
    assert "Valor das compras R$ 1.700,00" in shown
    # Tier mix: the default policy's tiers, with the resellers in each.
    tiers = response.context["index_panels"]
    assert len(tiers) == 1  # no pending panel without view_purchase
    assert "Revendedores por faixa" in shown
    # Top resellers, largest first, each linking to their purchases of the month.
    assert shown.index("Ana Souza") < shown.index("Bia Lima")
    assert "Caio Reis" not in shown  # rejected only: no cashback month
    ana_link = f"{CHANGELIST}?reseller__id__exact={march['ana'].pk}&amp;month=2026-03"
    assert f'href="{ana_link}"' in content
    assert "R$ 1.500,00" in shown
    assert "2 compras aguardam" not in shown


def test_the_tier_mix_counts_resellers_per_tier(client, march):
    response = staff(client, "purchases.view_analytics").get(HOME)
    panel = response.context["index_panels"][0]
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"home-figure\">(\d+)</td></tr>", panel)
    assert sum(int(n) for _, n in rows) == 2  # Ana and Bia; Caio's month is all rejected
    assert len(rows) >= 2  # every tier of the policy, zeros included


def test_staff_without_either_permission_see_no_panel(client, march):
    response = staff(client, "resellers.view_reseller").get(HOME)
    assert response.context["index_panels"] == []
    assert "aguarda" not in text(response)
    assert "até agora" not in text(response)


def test_a_superuser_sees_both_panels(admin_client, march):
    assert len(admin_client.get(HOME).context["index_panels"]) == 2


def test_the_home_figures_follow_the_purchase_writes(
    client, march, staff_user, make_purchase, django_capture_on_commit_callbacks
):
    client = staff(client, "purchases.view_purchase")
    assert "2 compras aguardam revisão" in text(client.get(HOME))  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        make_purchase(march["ana"], "10.00", date(2026, 3, 6), "A-3")
    assert "3 compras aguardam revisão" in text(client.get(HOME))


def test_the_home_reads_the_aggregates_not_the_purchases_rows(admin_client, march):
    admin_client.get(HOME)  # warm the session's cache of permissions etc.
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(HOME)
    on_purchases = [q["sql"] for q in queries.captured_queries if 'FROM "purchases_purchase"' in q["sql"]]
    # Not even the pending count reads the purchases: it sums the months' totals.
    assert on_purchases == []
    pending = [q["sql"] for q in queries.captured_queries if 'FROM "purchases_monthtotals"' in q["sql"]]
    assert any('SUM("purchases_monthtotals"."validating_count")' in sql for sql in pending)
    assert len(queries.captured_queries) <= 12
