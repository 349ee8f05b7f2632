"""Money and percentages in the admin, typed in headless Chromium with a
pt-BR locale as staff type them ("29,90", "1.299,90"). Selected with
`-m browser`."""

from decimal import Decimal

import pytest

from accounts.tests.factories import StaffFactory
from products.models import Product
from products.tests.factories import CategoryFactory
from purchases.models import CashbackPolicy
from purchases.months import current_month, next_month

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]


@pytest.fixture
def staff(db):
    return StaffFactory(is_superuser=True, full_name="Ana Revisora")


@pytest.mark.parametrize(
    ("typed", "saved", "shown"), [("29,90", "29.90", "29,90"), ("1.299,90", "1299.90", "1.299,90")]
)
def test_a_price_typed_the_brazilian_way_is_saved_and_shown_so(
    page, log_in_admin, screenshot, staff, typed, saved, shown
):
    category = CategoryFactory(name="Perfumaria")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in_admin(page, staff, "/admin/products/product/add/")
    page.fill("#id_sku", "PERF-1")
    page.fill("#id_name", "Colônia")
    page.select_option("#id_category", str(category.pk))
    page.fill("#id_price", typed)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    screenshot(page, f"admin-product-price-{saved}.png")

    assert Product.objects.get().price == Decimal(saved)
    assert page.input_value("#id_price") == shown
    # The list shows it as the input does.
    page.goto(page.url.split("/admin/")[0] + "/admin/products/product/")
    assert shown in page.locator("#result_list tbody tr").inner_text()


def test_an_ambiguous_price_is_refused_with_both_readings(page, log_in_admin, staff):
    category = CategoryFactory(name="Perfumaria")
    log_in_admin(page, staff, "/admin/products/product/add/")
    page.fill("#id_sku", "PERF-1")
    page.fill("#id_name", "Colônia")
    page.select_option("#id_category", str(category.pk))
    page.fill("#id_price", "2.990")
    page.click("input[name=_save]")
    error = page.locator(".field-price .errorlist").inner_text()
    assert "ambíguo" in error
    assert "2.990,00" in error
    assert "2,99" in error
    assert page.input_value("#id_price") == "2.990"  # as typed
    assert not Product.objects.exists()


def test_policy_tiers_typed_the_brazilian_way(page, log_in_admin, screenshot, staff):
    start = next_month(current_month())
    log_in_admin(page, staff, "/admin/purchases/cashbackpolicy/add/")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.fill("#id_effective_from", start.strftime("%d/%m/%Y"))
    page.fill("#id_tiers-0-up_to", "1.500,00")
    page.fill("#id_tiers-0-percent", "7,5")
    page.fill("#id_tiers-1-percent", "12,25")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    screenshot(page, "admin-policy-tiers.png", full_page=True)

    policy = CashbackPolicy.objects.get(effective_from=start)
    assert policy.as_tiers()[0].up_to == Decimal("1500.00")
    assert [tier.percent for tier in policy.as_tiers()] == [Decimal("7.5"), Decimal("12.25")]
    assert page.input_value("#id_tiers-0-up_to") == "1.500,00"
    assert page.input_value("#id_tiers-0-percent") == "7,50"
