import re
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from config.seeding import generate, store
from conftest import TODAY
from products.models import Category, Product
from purchases.analytics.services import analytics_figures_differences
from purchases.models import MonthlyCashback, MonthTotals, ProductMonthSales, Purchase, PurchaseItem
from purchases.months import month_start
from purchases.services import ItemInput, monthly_cashback_recalculate
from resellers.models import Reseller
from resellers.selectors import reseller_get_by_cpf
from resellers.tests.factories import ResellerFactory

# Every run of a test seeds the same date range.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

SMALL = {"resellers": 5, "purchases": 40, "products": 6, "months": 3}
TOKEN = "/api/v1/auth/token/"
MODELS = (User, Reseller, Category, Product, Purchase, PurchaseItem, MonthlyCashback)


def seed(**options) -> str:
    out = StringIO()
    call_command("seed", stdout=out, stderr=StringIO(), no_progress=True, **{**SMALL, **options})
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def snapshot() -> list[tuple]:
    """The seeded purchases by natural key (ids differ between runs)."""
    items = {}
    for purchase_id, sku, quantity, price in PurchaseItem.objects.values_list(
        "purchase_id", "product__sku", "quantity", "unit_price"
    ):
        items.setdefault(purchase_id, []).append((sku, quantity, price))
    return sorted(
        (
            purchase.reseller.user.email,
            purchase.reseller.user.full_name,
            purchase.code,
            purchase.value,
            purchase.date,
            purchase.status,
            purchase.rejection_reason,
            purchase.cashback_percent,
            purchase.cashback_value,
            tuple(sorted(items.get(purchase.pk, []))),
        )
        for purchase in Purchase.objects.select_related("reseller__user")
    )


def cashback_state() -> tuple[dict, dict]:
    purchases = {
        pk: (percent, value)
        for pk, percent, value in Purchase.objects.values_list("pk", "cashback_percent", "cashback_value")
    }
    months = {
        (row["reseller_id"], row["month"]): row
        for row in MonthlyCashback.objects.values(
            "reseller_id",
            "month",
            "policy_id",
            "total_value",
            "purchase_count",
            "cashback_percent",
            "cashback_value",
        )
    }
    return purchases, months


def printed_password(output: str, email: str) -> str:
    return re.search(rf"{re.escape(email)} / (\S+)", output).group(1)


def test_seed_creates_the_requested_sizes():
    output = seed()

    assert counts() == {
        "User": 6,  # the staff login and 5 resellers
        "Reseller": 5,
        "Category": len(generate.CATEGORIES),
        "Product": 6,
        "Purchase": 40,
        "PurchaseItem": PurchaseItem.objects.count(),
        "MonthlyCashback": MonthlyCashback.objects.count(),
    }
    assert PurchaseItem.objects.exists()
    assert "Created 5 resellers and the staff login" in output
    assert "40 purchases" in output


def test_seeded_purchases_look_like_real_ones():
    seed(resellers=4, purchases=300)
    staff = User.objects.get(email=generate.STAFF_EMAIL)
    first_day = date(2026, 1, 1)

    purchases = list(Purchase.objects.select_related("reseller__user").prefetch_related("items__product"))
    assert {purchase.status for purchase in purchases} == set(Purchase.Status.values)
    for purchase in purchases:
        assert first_day <= purchase.date <= TODAY
        assert purchase.created_by_id == purchase.reseller.user_id
        reviewed = purchase.reseller.user.email != generate.DEMO_EMAIL and purchase.status != "validating"
        assert (purchase.reviewed_by_id, purchase.reviewed_at is not None) == (
            (staff.pk, True) if reviewed else (None, False)
        )
        assert bool(purchase.rejection_reason) == (purchase.status == Purchase.Status.REJECTED)
        items = list(purchase.items.all())
        if items:
            assert 1 <= len(items) <= 3
            assert all(item.unit_price == item.product.price for item in items)
            assert purchase.value == sum(item.unit_price * item.quantity for item in items)
        else:
            assert 10 <= purchase.value <= 1500
    # The auto-approved CPF: approved at creation, never reviewed.
    demo = Purchase.objects.filter(reseller__user__email=generate.DEMO_EMAIL)
    assert demo.exists()
    assert set(demo.values_list("status", flat=True)) == {Purchase.Status.APPROVED}


def test_demo_reseller_has_the_auto_approved_cpf_and_logs_in_with_the_printed_password(api_client):
    output = seed()
    password = printed_password(output, generate.DEMO_EMAIL)

    reseller = reseller_get_by_cpf(cpf="153.509.460-56")
    assert reseller.user.email == generate.DEMO_EMAIL
    by_email = api_client.post(TOKEN, {"email": generate.DEMO_EMAIL, "password": password})
    by_cpf = api_client.post(TOKEN, {"cpf": "153.509.460-56", "password": password})
    assert (by_email.status_code, by_cpf.status_code) == (200, 200)
    assert "access" in by_cpf.json()


def test_generated_resellers_log_in_with_the_printed_password(api_client):
    output = seed()
    email = f"revendedor-00001@{generate.RESELLER_EMAIL_DOMAIN}"

    response = api_client.post(TOKEN, {"email": email, "password": printed_password(output, email)})

    assert response.status_code == 200


def test_staff_login_works_and_is_staff(api_client):
    output = seed()
    password = printed_password(output, generate.STAFF_EMAIL)

    response = api_client.post(TOKEN, {"email": generate.STAFF_EMAIL, "password": password})

    assert response.status_code == 200
    me = api_client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert me.json()["is_staff"] is True
    assert User.objects.get(email=generate.STAFF_EMAIL).is_superuser


def test_second_run_creates_nothing():
    seed()
    before, data = counts(), snapshot()

    output = seed()

    assert counts() == before
    assert snapshot() == data
    assert "nothing created" in output


def test_a_larger_run_adds_only_the_new_resellers():
    seed(resellers=3)
    old = snapshot()

    seed(resellers=5)

    assert Reseller.objects.count() == 5
    assert [row for row in snapshot() if row in old] == old
    assert Purchase.objects.filter(reseller__user__email__endswith="00004@demo.example.com").exists()


def test_same_seed_gives_the_same_data_and_another_seed_other_data():
    seed()
    first = snapshot()

    seed(reset=True)
    assert snapshot() == first

    seed(reset=True, seed=7)
    assert snapshot() != first


def test_reset_replaces_the_seeded_data_and_keeps_everything_else(make_purchase):
    outsider = ResellerFactory()
    outsider_product = Product.objects.create(
        sku="OUTSIDE-1",
        name="Outro",
        price=10,
        category=Category.objects.create(name="Outros", slug="outros"),
    )
    outsider_purchase = make_purchase(outsider, 100, TODAY, "MINE")
    seed()

    output = seed(reset=True, resellers=3, purchases=10, products=2)

    assert "Reset: deleted 6 logins, 40 purchases" in output
    assert Reseller.objects.count() == 4
    assert Purchase.objects.count() == 11
    assert Product.objects.filter(sku__startswith=generate.SKU_PREFIX).count() == 2
    assert Purchase.objects.filter(pk=outsider_purchase.pk).exists()
    assert Product.objects.filter(pk=outsider_product.pk).exists()
    assert User.objects.filter(pk=outsider.user_id).exists()


def test_reset_keeps_seeded_products_that_other_purchases_use(make_purchase):
    seed()
    product = Product.objects.filter(sku__startswith=generate.SKU_PREFIX).first()
    outsider = ResellerFactory()
    make_purchase(outsider, date=TODAY, code="MINE", items=[ItemInput(product=product, quantity=1)])

    seed(reset=True)

    assert Product.objects.filter(pk=product.pk).exists()
    assert Purchase.objects.filter(reseller=outsider).count() == 1


def test_cashback_columns_match_the_services_recalculation():
    # Few purchases per reseller-month over many months: every tier shows up.
    seed(resellers=6, purchases=90, months=12)
    before = cashback_state()
    assert {percent for percent, _ in before[0].values()} >= {10, 15, 20, 0}

    for reseller_id, day in Purchase.objects.values_list("reseller_id", "date").distinct():
        monthly_cashback_recalculate(reseller_id=reseller_id, month=month_start(day))

    assert cashback_state() == before


def test_a_month_with_only_rejected_purchases_has_no_month_row():
    seed(resellers=6, purchases=90, months=12)
    months_with_counted = set(
        Purchase.objects.exclude(status=Purchase.Status.REJECTED).values_list("reseller_id", "date")
    )
    expected = {(reseller_id, month_start(day)) for reseller_id, day in months_with_counted}

    assert set(MonthlyCashback.objects.values_list("reseller_id", "month")) == expected


def test_databases_that_cannot_return_bulk_insert_ids_get_the_same_data(monkeypatch):
    seed()
    expected = snapshot()
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)

    seed(reset=True)

    assert snapshot() == expected


@pytest.mark.postgres
def test_copy_and_bulk_create_write_the_same_rows(monkeypatch):
    seed()
    expected = snapshot()
    monkeypatch.setattr(store, "CopyWriter", store.OrmWriter)

    seed(reset=True)

    assert snapshot() == expected


# --- Progress: a bar on a terminal, lines in a log, nothing with --no-progress --------


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def seed_progress(stderr, **options) -> str:
    call_command("seed", stdout=StringIO(), stderr=stderr, **{**SMALL, **options})
    return stderr.getvalue()


def test_seed_writes_progress_lines_when_stderr_is_not_a_terminal():
    # A container log or CI: no bar (it would be one endless line of \r),
    # but a line each time another tenth of the purchases is written (as
    # often as the batches allow), so a long run shows life.
    lines = seed_progress(StringIO(), resellers=40, purchases=400, batch_size=1).splitlines()
    progress = [line for line in lines if line.startswith("Purchases:")]
    assert 5 <= len(progress) <= 10, lines
    percents = [int(re.search(r"\((\d+) %\)", line).group(1)) for line in progress]
    assert percents == sorted(set(percents))
    assert all(percent % 10 == 0 for percent in percents)
    assert progress[-1].startswith("Purchases: 400 of 400 (100 %)")
    assert "\r" not in "".join(lines)


def test_seed_progress_lines_skip_nothing_and_repeat_nothing_with_large_batches():
    progress = [
        line
        for line in seed_progress(StringIO(), purchases=40, batch_size=5000).splitlines()
        if line.startswith("Purchases:")
    ]
    assert progress == [progress[0]]
    assert progress[0].startswith("Purchases: 40 of 40 (100 %)")


def test_seed_draws_a_bar_on_a_terminal():
    output = seed_progress(Terminal(), purchases=200, batch_size=10)
    assert "\r" in output
    assert "200/200" in output
    assert "Purchases:" not in output


@pytest.mark.parametrize("stderr", [StringIO, Terminal])
def test_no_progress_silences_both(stderr):
    assert seed_progress(stderr(), purchases=200, batch_size=10, no_progress=True) == ""


def test_verbosity_zero_silences_progress():
    assert seed_progress(StringIO(), purchases=200, batch_size=10, verbosity=0) == ""


def test_the_seed_builds_the_analytics_figures_from_its_rows(make_purchase):
    # A purchase recorded through the services before: its figures stay counted.
    make_purchase(ResellerFactory(), "250.00", date=TODAY, code="MINE")
    seed(resellers=6, purchases=90, months=12)
    assert not analytics_figures_differences()
    assert MonthTotals.objects.filter(validating_count__gt=0).exists()
    assert ProductMonthSales.objects.filter(quantity__gt=0).exists()

    seed(resellers=8, purchases=90, months=12)  # adds two resellers' purchases
    assert not analytics_figures_differences()

    seed(reset=True, resellers=3, purchases=20, months=2)
    assert not analytics_figures_differences()
    assert (
        MonthTotals.objects.get(month=month_start(TODAY)).active_resellers
        == Purchase.objects.filter(date__gte=month_start(TODAY)).values("reseller").distinct().count()
    )
