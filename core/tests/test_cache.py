"""Versioned cached answers (core.cache.VersionedAnswer)."""

from unittest import mock

import pytest
from django.core.cache import cache

from core.cache import VersionedAnswer, bump_version


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    yield
    cache.clear()


def test_an_answer_is_served_until_a_namespace_is_bumped():
    answer = VersionedAnswer(("a", "b"), "page", 1)
    assert answer.get() is None
    answer.set({"rows": [1]}, timeout=60)
    assert VersionedAnswer(("a", "b"), "page", 1).get() == {"rows": [1]}
    bump_version("b")
    assert VersionedAnswer(("a", "b"), "page", 1).get() is None


def test_an_answer_computed_across_a_bump_is_never_served():
    # Read (versions before the write), the write commits and bumps, then the
    # slow reader stores what it computed from the old data.
    reader = VersionedAnswer(("a",), "page")
    assert reader.get() is None
    bump_version("a")
    reader.set("old data", timeout=60)
    assert VersionedAnswer(("a",), "page").get() is None


def test_parts_and_namespaces_make_different_answers():
    VersionedAnswer(("a",), "page", 1).set("one", timeout=60)
    assert VersionedAnswer(("a",), "page", 2).get() is None
    assert VersionedAnswer(("a", "b"), "page", 1).get() is None


def test_nothing_is_stored_when_the_cache_does_not_answer():
    with (
        mock.patch.object(cache, "get_many", return_value={}),
        mock.patch.object(cache, "get", return_value=None),
    ):
        answer = VersionedAnswer(("a",), "page")
        assert answer.get() is None
        with mock.patch.object(cache, "set") as cache_set:
            answer.set("data", timeout=60)
    cache_set.assert_not_called()
