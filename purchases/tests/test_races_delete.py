"""Deletes racing deletes, edits and reviews of one purchase: 20 requests at
once on PostgreSQL, each answered 200/204, 404 or 409, never 500 (a row
deleted while another request waited for its lock used to be
Purchase.DoesNotExist, a 500)."""

from collections import Counter

import pytest

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client, run_together
from purchases.models import Purchase

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_cashback_policy"),
]

THREADS = 20
STAFF_PERMISSIONS = ["purchases.view_purchase", "purchases.change_purchase", "purchases.review_purchase"]


def _statuses(responses) -> Counter:
    assert all(response is not None for response in responses), "a request did not finish"
    return Counter(response.status_code for response in responses)


def test_twenty_concurrent_deletes_of_one_purchase(make_purchase):
    purchase = make_purchase(code="RACE-DEL")
    clients = [authenticated_client(purchase.reseller.user) for _ in range(THREADS)]
    url = f"/api/v1/purchases/{purchase.pk}/"

    statuses = _statuses(run_together(*(lambda c=c: c.delete(url) for c in clients)))

    assert statuses[204] == 1, statuses
    assert set(statuses) <= {204, 404}, statuses
    assert not Purchase.objects.filter(pk=purchase.pk).exists()


@pytest.mark.parametrize("other", ["patch", "approve", "reject"])
def test_deletes_racing_an_edit_or_a_review(make_purchase, other):
    purchase = make_purchase(code=f"RACE-{other}")
    owner = purchase.reseller.user
    url = f"/api/v1/purchases/{purchase.pk}/"
    staff = [authenticated_client(StaffFactory(permissions=STAFF_PERMISSIONS)) for _ in range(THREADS // 2)]
    deleters = [authenticated_client(owner) for _ in range(THREADS // 2)]

    def other_call(client):
        if other == "patch":
            return client.patch(url, {"value": "55.00"}, format="json")
        if other == "approve":
            return client.post(f"{url}approve/")
        return client.post(f"{url}reject/", {"reason": "Duplicate"}, format="json")

    calls = [lambda c=c: c.delete(url) for c in deleters] + [lambda c=c: other_call(c) for c in staff]
    statuses = _statuses(run_together(*calls))

    assert set(statuses) <= {200, 204, 404, 409}, statuses
    remaining = Purchase.objects.filter(pk=purchase.pk).first()
    if remaining is None:
        assert statuses[204] == 1, statuses
    else:
        # A review won first: the purchase stays, and no delete succeeded.
        assert statuses[204] == 0, statuses
        assert remaining.status != Purchase.Status.VALIDATING
