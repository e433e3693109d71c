"""SQLite's local-date function agrees with the zone database at every instant."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from auditor.store.engine import sqlite_local_date

ZONES = ["America/Los_Angeles", "America/Denver", "America/New_York", "Asia/Kolkata",
         "Australia/Lord_Howe", "Pacific/Chatham", "UTC"]


def stored(instant: datetime) -> str:
    """Return the instant as the store writes it: naive UTC text."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
       st.sampled_from(ZONES))
def test_the_cached_local_date_is_the_zone_databases_date(naive_utc, zone):
    instant = naive_utc.replace(tzinfo=UTC)
    expected = instant.astimezone(ZoneInfo(zone)).date().isoformat()
    assert sqlite_local_date(stored(instant), zone) == expected


def test_every_minute_around_a_half_hour_zones_midnight_and_a_dst_change():
    start = datetime(2026, 4, 4, 12, tzinfo=UTC)  # Lord Howe leaves DST on 5 April 2026
    for minutes in range(0, 36 * 60):
        instant = start + timedelta(minutes=minutes)
        for zone in ("Australia/Lord_Howe", "Asia/Kolkata"):
            expected = instant.astimezone(ZoneInfo(zone)).date().isoformat()
            assert sqlite_local_date(stored(instant), zone) == expected, (instant, zone)
