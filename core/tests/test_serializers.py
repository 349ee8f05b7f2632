"""Rows written by RowSerializer: date-times as DRF writes them, in the
current time zone, whether one row is written or a list."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from core.serializers import RowListSerializer, RowSerializer

INSTANT = datetime.datetime(2026, 3, 20, 12, 30, tzinfo=datetime.UTC)


class Nested(RowSerializer):
    at = serializers.DateTimeField()


class Row(RowSerializer):
    at = serializers.DateTimeField()
    maybe = serializers.DateTimeField(allow_null=True)
    nested = Nested(many=True)


def rows(count: int) -> list[dict]:
    return [{"at": INSTANT, "maybe": None, "nested": [{"at": INSTANT}]} for _ in range(count)]


@pytest.mark.parametrize(
    ("zone", "text"),
    [
        ("America/Sao_Paulo", "2026-03-20T09:30:00-03:00"),
        ("Asia/Kolkata", "2026-03-20T18:00:00+05:30"),
        ("UTC", "2026-03-20T12:30:00Z"),
    ],
)
def test_date_times_are_written_in_the_current_zone_as_drf_writes_them(zone, text):
    drf = serializers.DateTimeField()
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert drf.to_representation(INSTANT) == text
        assert Row(rows(1)[0]).data == {"at": text, "maybe": None, "nested": [{"at": text}]}
        many = Row(rows(3), many=True)
        assert isinstance(many, RowListSerializer)
        assert many.data == [{"at": text, "maybe": None, "nested": [{"at": text}]}] * 3


def test_a_list_written_in_one_zone_leaves_none_behind():
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        Row(rows(2), many=True).data  # noqa: B018 (written for its effect)
    # Back in the default zone (America/Sao_Paulo) for the next row.
    assert Row(rows(1)[0]).data["at"] == "2026-03-20T09:30:00-03:00"


def test_a_naive_date_time_is_refused_as_django_refuses_it():
    naive = {"at": INSTANT.replace(tzinfo=None), "maybe": None, "nested": []}
    with pytest.raises(ValueError, match="naive"):
        Row([naive], many=True).data  # noqa: B018
