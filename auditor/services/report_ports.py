"""Read ports for packets and reports: the activity log, waivers, and packet records."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
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


class ActivityLog(Protocol):
    """The events behind a packet's supporting logs and the associate's reports."""

    def events(self, license_number: str, types: Collection[EventType],
               start: datetime | None, end: datetime) -> list[LoggedEvent]:
        """Return a license's events of those types in [start, end), oldest first.

        start None means from the first event (on-hand needs the package's history).
        """


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
