"""InIntegers: ids written into the SQL, as IN would match them."""

import pytest
from django.db import connection
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from core.lookups import InIntegers

pytestmark = pytest.mark.django_db


def test_matches_as_in_with_the_integers_in_the_sql():
    users = UserFactory.create_batch(4)
    wanted = [users[0].pk, users[2].pk, users[2].pk]
    with CaptureQueriesContext(connection) as queries:
        found = set(User.objects.filter(InIntegers(F("id"), wanted)).values_list("pk", flat=True))
    assert found == {users[0].pk, users[2].pk}
    assert f"IN ({users[0].pk}, {users[2].pk})" in queries.captured_queries[0]["sql"]


def test_an_empty_list_matches_nothing_and_combines_with_q():
    users = UserFactory.create_batch(2)
    assert not User.objects.filter(InIntegers(F("id"), [])).exists()
    either = Q(email=users[1].email) | InIntegers(F("id"), [users[0].pk])
    assert set(User.objects.filter(either)) == set(users)
    assert list(User.objects.filter(Q(email=users[1].email) | InIntegers(F("id"), []))) == [users[1]]


def test_only_integers_are_written():
    with pytest.raises(ValueError, match="invalid literal"):
        list(User.objects.filter(InIntegers(F("id"), ["1) OR (1=1"])))


def test_works_inside_a_subquery():
    users = UserFactory.create_batch(3)
    inner = User.objects.filter(InIntegers(F("id"), [users[1].pk])).values("pk")
    assert list(User.objects.filter(pk__in=inner)) == [users[1]]
