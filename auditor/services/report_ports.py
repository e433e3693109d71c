"""Read ports for packets and reports: the activity log, waivers, and packet records.

The activity log answers history-dependent questions (a package's on-hand at a moment,
the state of each counted package) as aggregates, so reports and supporting logs read
the period's events and those, never every event since the license's first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from auditor.domain.events import EventType


@dataclass(frozen=True)
class LoggedEvent:
    """One stored event as the supporting logs read it."""

    id: int
    type: EventType
    occurred_at: datetime
    package_label: str | None
    reference: str | None
    payload: dict[str, Any]


@dataclass
class PackageState:
    """One package as its events describe it at a moment.

    metrc and pos are the on-hands of `rules.language.ON_HAND`; location is the last
    physical move's destination, or METRC's location until a move is seen; item,
    category and unit are the first known (an accepted manifest's received unit wins);
    received_at is the last METRC acceptance; expires is the earliest of expiration,
    sell-by and use-by dates of the latest package snapshot that has one.
    """

    label: str
    item: str | None = None
    category: str | None = None
    unit: str | None = None
    metrc: float = 0.0
    pos: float = 0.0
    location: str | None = None
    received_at: datetime | None = None
    expires: str | None = None


@dataclass(frozen=True)
class WeekSales:
    """A package's POS sales (voided lines aside) in one local week, Monday first."""

    package_label: str
    week: date
    quantity: float
    dollars: float
    lines: int


@dataclass(frozen=True)
class SaleSide:
    """One side's lines of a receipt and package: first time, total, unit, lines, and
    (METRC) the latest time METRC recorded one of them."""

    first_at: datetime
    quantity: float
    unit: str | None
    lines: int
    recorded_at: str | None = None


@dataclass(frozen=True)
class SaleMatch:
    """The POS and METRC lines of one (receipt, package); either side may be missing."""

    receipt: str
    package_label: str
    pos: SaleSide | None
    metrc: SaleSide | None


SALE_QUANTITY_TOLERANCE = 1e-6  # POS and METRC quantities closer than this agree


def agrees(match: SaleMatch, surely_in_time: timedelta | None) -> bool:
    """Return whether a pair agrees (see ActivityLog.sale_matches)."""
    pos, metrc = match.pos, match.metrc
    if pos is None or metrc is None or abs(pos.quantity - metrc.quantity) > \
            SALE_QUANTITY_TOLERANCE:
        return False
    return (surely_in_time is None or metrc.recorded_at is None
            or datetime.fromisoformat(metrc.recorded_at) <= pos.first_at + surely_in_time)


@dataclass(frozen=True)
class AgreeingSales:
    """One local day's (receipt, package) pairs that agree, as counts: POS lines, METRC
    lines, and pairs."""

    day: date
    pos_lines: int
    metrc_lines: int
    pairs: int


class ActivityLog(Protocol):
    """The events behind a packet's supporting logs and the associate's reports."""

    def events(self, license_number: str, types: Collection[EventType],
               start: datetime | None, end: datetime,
               fields: Collection[str] | None = None) -> list[LoggedEvent]:
        """Return a license's events of those types in [start, end), oldest first.

        start None means from the first event (use the aggregates below for history);
        `fields` keeps only those payload fields (read in SQL: a year of lines is cheaper
        to read when the payloads stay in the database).
        """

    def coverage_events(self, license_number: str, start: datetime, end: datetime,
                        fields: Collection[str]) -> list[LoggedEvent]:
        """Return what the count coverage log replays of [start, end), oldest first, with
        only those payload fields: accepted manifest lines, adjustments, count lines, and
        METRC sale lines. A sale line outside every count's span may come netted with the
        others of its package up to the next count's start, as one adjustment (id 0) just
        before it: the log reads METRC's on-hand only as a count starts and the sales
        only during a count, so it finds the same."""

    def packages_at(self, license_number: str, at: datetime) -> dict[str, PackageState]:
        """Return {label: state} of every package with an event before `at`, with METRC's
        on-hand (pos is left 0: `counted` gives both sides where a report needs them)."""

    def counted(self, license_number: str, start: datetime,
                end: datetime) -> list[tuple[LoggedEvent, PackageState]]:
        """Return each count line in [start, end) with its package's state: on-hands from
        the events at or before the line (as the rules read them), the rest as of `end`."""

    def sales_by_week(self, license_number: str, weeks: Sequence[tuple[date, datetime]],
                      end: datetime) -> list[WeekSales]:
        """Return POS sales per package and week, from the first week's start to `end`.

        `weeks` pairs each week's Monday with the instant its sales start, oldest first.
        """

    def sale_matches(self, license_number: str, zone: str, start: datetime, end: datetime,
                     surely_in_time: timedelta | None) -> tuple[list[AgreeingSales],
                                                                list[SaleMatch]]:
        """Return the POS lines (voided aside) and METRC sale lines of [start, end) paired
        by receipt and package: the pairs that agree, counted per day of the `zone`'s
        calendar, and every other pair in full.

        A pair agrees when both sides have the same quantity and, unless `surely_in_time`
        is None, METRC recorded it within that long after the POS sale (or when is not
        known). The caller judges the other pairs, late ones among them, exactly. When
        time is not judged (None), the METRC sides carry no recorded_at.
        """

    def latest_before(self, license_number: str, type: EventType,
                      before: datetime) -> list[LoggedEvent]:
        """Return each package's last event of `type` before `before`."""


class WaiverSource(Protocol):
    """Waivers granted on findings; the packet lists those in force."""

    def in_force(self, license_number: str, identities: Collection[str],
                 at: datetime) -> dict[str, dict[str, Any]]:
        """Return {finding identity: waiver} for waivers in force at `at`.

        A waiver carries its justification, approver and expiry.
        """


class NoWaivers:
    """A waiver source that has none (when no waiver store is wired in)."""

    def in_force(self, license_number: str, identities: Collection[str],
                 at: datetime) -> dict[str, dict[str, Any]]:
        """Return no waivers."""
        return {}


class FindingStates(Protocol):
    """The finding-status store of the API (its `finding_states`)."""

    def finding_states(self, license_number: str, identities: list[str]) -> dict[str, Any]:
        """Return {identity: state with status, actor, waiver justification and expiry}."""


class StatusWaivers:
    """Waivers read from the findings' recorded statuses: waived and not yet expired."""

    def __init__(self, states: FindingStates) -> None:
        self.states = states

    def in_force(self, license_number: str, identities: Collection[str],
                 at: datetime) -> dict[str, dict[str, Any]]:
        """Return the waivers in force at `at` on those findings."""
        found = self.states.finding_states(license_number, sorted(identities))
        return {identity: {"justification": s.waiver_justification, "approver": s.actor,
                           "expires_at": s.waiver_expires_at}
                for identity, s in found.items() if s.status == "waived"
                and (s.waiver_expires_at is None or s.waiver_expires_at > at)}


@dataclass(frozen=True)
class PacketVersion:
    """One recorded version of a run's packet: its canonical content and who made it."""

    run_id: str
    version: int
    sha256: str
    content: dict[str, Any]
    created_at: datetime
    created_by: str
    reason: str
    changes: list[str]
    finalized_at: datetime | None


class PacketRecords(Protocol):
    """Storage of packet versions: drafts are replaced, finalized versions never change."""

    def versions(self, run_id: str) -> list[PacketVersion]:
        """Return a run's packet versions, oldest first."""

    def save_draft(self, packet: PacketVersion) -> None:
        """Store or replace version 1 of a run while it is not finalized."""

    def finalize(self, run_id: str, version: int, at: datetime) -> None:
        """Mark a version final; Conflict if it already is."""

    def add_version(self, packet: PacketVersion) -> None:
        """Append a new, final version (an amendment); Conflict if the number is taken."""
