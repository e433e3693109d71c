from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from auditor.domain.errors import RowRejected
from auditor.importers import fields as f

LA = ZoneInfo("America/Los_Angeles")


def test_aware_time_requires_an_offset_and_converts_to_utc():
    assert f.aware_time({"t": "2026-01-05T14:02:00-08:00"}, "t") == datetime(
        2026, 1, 5, 22, 2, tzinfo=UTC)
    with pytest.raises(RowRejected, match="no UTC offset"):
        f.aware_time({"t": "2026-01-05T14:02:00"}, "t")


def test_metrc_local_time_is_placed_in_the_license_zone_across_dst():
    winter = f.local_time({"t": "2026-01-05T14:02:00.000"}, "t", LA)
    summer = f.local_time({"t": "2026-07-05T14:02:00.000"}, "t", LA)
    assert winter.hour == 22 and summer.hour == 21


def test_metrc_unset_time_counts_as_missing():
    assert f.aware_time({"t": "0001-01-01T00:00:00+00:00"}, "t", required=False) is None
    with pytest.raises(RowRejected, match="not set"):
        f.aware_time({"t": "0001-01-01T00:00:00+00:00"}, "t")


@pytest.mark.parametrize("value", ["abc", "NaN", "inf", True, [1]])
def test_number_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(RowRejected, match="q"):
        f.number({"q": value}, "q")


def test_number_accepts_json_numbers_and_decimal_text():
    assert f.number({"q": "3.5"}, "q") == 3.5 and f.number({"q": 2}, "q") == 2.0


def test_units_accept_metrc_names_and_abbreviations_only():
    assert f.unit({"u": "g"}, "u") == "Grams" and f.unit({"u": "Each"}, "u") == "Each"
    with pytest.raises(RowRejected, match="not a known unit"):
        f.unit({"u": "handfuls"}, "u")


def test_tags_are_kept_as_they_came_apart_from_surrounding_space():
    assert f.tag({"t": " 1a4-bad "}, "t") == "1a4-bad"


def test_text_refuses_nul_and_overlong_values():
    with pytest.raises(RowRejected, match="NUL"):
        f.text({"x": "a\x00b"}, "x")
    with pytest.raises(RowRejected, match="longer"):
        f.text({"x": "a" * 501}, "x")


def test_dates_accept_a_timestamp_keeping_its_date():
    assert f.day({"d": "2024-01-15T09:30:00Z"}, "d") == date(2024, 1, 15)


def test_boolean_words():
    assert f.boolean({"b": "true"}, "b") is True and f.boolean({"b": "no"}, "b") is False
    with pytest.raises(RowRejected):
        f.boolean({"b": "maybe"}, "b")
