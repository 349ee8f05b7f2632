"""Beat's nightly check: figures that drifted from the rows are rebuilt."""

from decimal import Decimal

import pytest

from purchases.analytics.services import analytics_figures_differences
from purchases.models import MonthTotals
from purchases.months import current_month, format_month
from purchases.tasks import analytics_figures_verify

pytestmark = pytest.mark.django_db


def test_figures_that_drifted_are_rebuilt_and_logged(reseller, make_purchase, caplog):
    make_purchase(reseller, "100.00")
    assert analytics_figures_verify() == []
    MonthTotals.objects.filter(month=current_month()).update(validating_value=Decimal("1.00"))
    assert analytics_figures_differences(month=current_month())
    assert analytics_figures_verify() == [format_month(current_month())]
    assert not analytics_figures_differences(month=current_month())
    assert "differed from the rows" in caplog.text
