"""A report's scope: the license, its local dates and their UTC bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from auditor.domain.license import License


@dataclass(frozen=True)
class Period:
    """A report's scope: license, local dates and their UTC bounds."""

    license: License
    start: date
    end: date
    opens: datetime
    closes: datetime

    @property
    def days(self) -> int:
        """Return the number of days in the period."""
        return (self.end - self.start).days + 1

    def week_starts(self) -> list[tuple[date, datetime]]:
        """Return each week's Monday with the instant its sales start: local midnight, or
        the period's opening for the first week."""
        zone = self.license.zone()
        return [(monday, max(self.opens, datetime.combine(monday, time(), tzinfo=zone)
                             .astimezone(UTC))) for monday in self.weeks()]

    def weeks(self) -> list[date]:
        """Return the Monday of every week the period touches, oldest first."""
        monday = self.start - timedelta(days=self.start.weekday())
        return [monday + timedelta(weeks=i)
                for i in range((self.end - monday).days // 7 + 1)]
