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
ORGANIZATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
DEFAULT_ORGANIZATION = "default"  # the tenant of a single-operator install


def check_organization_name(name: str) -> str:
    """Return an organization name if it is well formed; InvalidInput naming the rule."""
    if not ORGANIZATION_NAME.fullmatch(name):
        raise InvalidInput(f"organization name {name!r} must be 1-100 letters, digits, '.', "
                           "'_' or '-', starting with a letter or digit")
    return name


@dataclass(frozen=True, slots=True)
class License:
    """A facility license: its number, state, local time zone, locations and organization.

    The organization (tenant) owns the license: its rules in force are that
    organization's published versions over the state pack.
    """

    number: str
    state: str
    timezone: str
    sales_floor_locations: tuple[str, ...] = ("Sales Floor",)
    business_name: str = ""
    vault_locations: tuple[str, ...] = field(default=("Vault",))
    organization: str = DEFAULT_ORGANIZATION

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
        check_organization_name(self.organization)

    def zone(self) -> ZoneInfo:
        """Return the license's time zone, in which METRC writes its zone-less times."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                f"time zone {self.timezone!r} is unknown; use an IANA name such as "
                "America/Los_Angeles"
            ) from None
