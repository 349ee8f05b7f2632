"""Beat's nightly check: figures that drifted from the rows are rebuilt."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from purchases.analytics import services
from purchases.analytics.services import (
    analytics_figures_differences,
    code_counts_differences,
    code_counts_recount,
)
from purchases.models import CodeCounts, MonthTotals
from purchases.months import current_month, format_month
from purchases.tasks import analytics_figures_verify

pytestmark = pytest.mark.django_db


def test_figures_that_drifted_are_rebuilt_and_logged(reseller, make_purchase, caplog):
    make_purchase(reseller, "100.00")
    assert analytics_figures_verify() == {"months": [], "codes": 0}
    MonthTotals.objects.filter(month=current_month()).update(validating_value=Decimal("1.00"))
    assert analytics_figures_differences(month=current_month())
    assert analytics_figures_verify() == {"months": [format_month(current_month())], "codes": 0}
    assert not analytics_figures_differences(month=current_month())
    assert "differed from the rows" in caplog.text


def test_code_counts_that_drifted_are_recounted_and_the_others_left(make_purchase, caplog):
    for code in ("NF-1", "NF-1", "NF-2", "NF-3"):
        make_purchase(code=code)
    # Written around the services: one count too high, one row missing, one
    # row for a code no purchase has.
    CodeCounts.objects.filter(code="NF-1").update(purchase_count=F("purchase_count") + 5)
    CodeCounts.objects.filter(code="NF-2").delete()
    CodeCounts.objects.create(code="GONE", purchase_count=3)
    untouched = CodeCounts.objects.get(code="NF-3")

    assert code_counts_differences() == ["GONE", "NF-1", "NF-2"]
    assert analytics_figures_verify() == {"months": [], "codes": 3}
    assert dict(CodeCounts.objects.values_list("code", "purchase_count")) == {"NF-1": 2, "NF-2": 1, "NF-3": 1}
    assert CodeCounts.objects.get(code="NF-3").pk == untouched.pk
    assert not analytics_figures_differences()
    assert "The code counts of 3 code(s) differed from the rows (GONE, NF-1, NF-2)" in caplog.text
    assert analytics_figures_verify() == {"months": [], "codes": 0}


def test_many_codes_are_recounted_in_batches(make_purchase, monkeypatch):
    monkeypatch.setattr(services, "RECOUNT_BATCH", 2)
    for number in range(5):
        make_purchase(code=f"NF-{number}")
    CodeCounts.objects.all().delete()
    codes = code_counts_differences()
    assert len(codes) == 5
    with CaptureQueriesContext(connection) as queries:
        assert code_counts_recount(codes=codes) == 5
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # A delete and an insert per batch of two.
    assert (statements.count("DELETE"), statements.count("INSERT")) == (3, 3)
    assert not code_counts_differences()
