"""A licensed facility: the scope every event, rule and finding belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditor.domain.errors import InvalidInput

US_STATES = frozenset({
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL",
    "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE",
    "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VA", "VT", "WA", "WI", "WV", "WY",
})
LICENSE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")


@dataclass(frozen=True, slots=True)
class License:
    """A facility license: its number, state, local time zone and sales-floor locations."""

    number: str
    state: str
    timezone: str
    sales_floor_locations: tuple[str, ...] = ("Sales Floor",)
    business_name: str = ""
    vault_locations: tuple[str, ...] = field(default=("Vault",))

    def __post_init__(self) -> None:
        if not LICENSE_NUMBER.fullmatch(self.number):
            raise InvalidInput(
                f"license number {self.number!r} must be 2-64 letters, digits, '.', '_' or '-'"
            )
        if self.state not in US_STATES:
            raise InvalidInput(f"state {self.state!r} is not a two-letter US state code")
        self.zone()  # validates the time zone name early
        if not self.sales_floor_locations:
            raise InvalidInput("a license needs at least one sales-floor location")

    def zone(self) -> ZoneInfo:
        """Return the license's time zone, in which METRC writes its zone-less times."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                f"time zone {self.timezone!r} is unknown; use an IANA name such as "
                "America/Los_Angeles"
            ) from None
