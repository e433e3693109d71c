"""Turn simulation times into the timestamp formats METRC and the POS exports use.

A simulation time is an int: local wall-clock seconds since midnight of the store's first day.
Store activity happens between 05:00 and 23:59 local, so every instant of a day shares the UTC
offset in force at local noon (US DST changes happen at 02:00).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

DAY = 86_400
HOUR = 3_600
MINUTE = 60


def hm(hours: int, minutes: int = 0) -> int:
    """Return the seconds after local midnight of hours:minutes."""
    return hours * HOUR + minutes * MINUTE


class _Day:
    __slots__ = ("iso", "offset", "offset_seconds", "wall_epoch")

    def __init__(self, iso: str, offset: str, offset_seconds: int, wall_epoch: int) -> None:
        self.iso = iso
        self.offset = offset
        self.offset_seconds = offset_seconds
        self.wall_epoch = wall_epoch


class Clock:
    """Format simulation times for one license's time zone."""

    def __init__(self, start: datetime.date, timezone: str) -> None:
        self.start = start
        self.tz = ZoneInfo(timezone)
        self._days: dict[int, _Day] = {}

    def _day(self, index: int) -> _Day:
        info = self._days.get(index)
        if info is None:
            info = self._make_day(index)
            self._days[index] = info
        return info

    def _make_day(self, index: int) -> _Day:
        date = self.start + datetime.timedelta(days=index)
        noon = datetime.datetime(date.year, date.month, date.day, 12, tzinfo=self.tz)
        seconds = int((noon.utcoffset() or datetime.timedelta()).total_seconds())
        sign = "-" if seconds < 0 else "+"
        hours, rest = divmod(abs(seconds), HOUR)
        offset = f"{sign}{hours:02d}:{rest // MINUTE:02d}"
        midnight = datetime.datetime(date.year, date.month, date.day, tzinfo=datetime.UTC)
        return _Day(date.isoformat(), offset, seconds, int(midnight.timestamp()))

    def date(self, t: int) -> str:
        """Return the local date YYYY-MM-DD of t."""
        return self._day(t // DAY).iso

    def _clock(self, t: int) -> tuple[_Day, str]:
        day, seconds = divmod(t, DAY)
        hours, rest = divmod(seconds, HOUR)
        minutes, secs = divmod(rest, MINUTE)
        info = self._day(day)
        return info, f"{info.iso}T{hours:02d}:{minutes:02d}:{secs:02d}"

    def offset(self, t: int) -> str:
        """Return t as ISO 8601 with the license's UTC offset."""
        info, text = self._clock(t)
        return text + info.offset

    def naive(self, t: int) -> str:
        """Return t as METRC's facility-local time without a zone."""
        return self._clock(t)[1] + ".000"

    def epoch(self, t: int) -> int:
        """Return t as POSIX seconds."""
        info = self._day(t // DAY)
        return info.wall_epoch + t % DAY - info.offset_seconds

    def utc(self, t: int) -> str:
        """Return t as a UTC timestamp ending in Z, the way METRC lists adjustments."""
        moment = datetime.datetime.fromtimestamp(self.epoch(t), datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def offset_of_epoch(self, epoch: int) -> str:
        """Return POSIX seconds as ISO 8601 in the license's zone."""
        return datetime.datetime.fromtimestamp(epoch, self.tz).isoformat()

    def day_of(self, date: datetime.date) -> int:
        """Return the day index of a calendar date."""
        return (date - self.start).days

    def weekday(self, day: int) -> int:
        """Return the weekday (Monday 0) of a day index."""
        return (self.start + datetime.timedelta(days=day)).weekday()
