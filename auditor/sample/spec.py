"""Describe the sample store to generate."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class StoreSpec:
    """Parameters of a generated sample store; the same spec always yields the same files."""

    days: int = 90
    receipts_per_day: int = 120
    seed: int = 1
    start: datetime.date = datetime.date(2026, 1, 1)
    plant: bool = True
    license_number: str = "C10-0000123-LIC"
    state: str = "CA"
    timezone: str = "America/Los_Angeles"

    def to_json(self) -> dict:
        """Return the spec as a JSON-ready dict."""
        data = dataclasses.asdict(self)
        data["start"] = self.start.isoformat()
        return data
