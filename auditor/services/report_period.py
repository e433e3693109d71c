"""A report's scope: the license, its local dates and their UTC bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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

    def weeks(self) -> list[date]:
        """Return the Monday of every week the period touches, oldest first."""
        monday = self.start - timedelta(days=self.start.weekday())
        return [monday + timedelta(weeks=i)
                for i in range((self.end - monday).days // 7 + 1)]
