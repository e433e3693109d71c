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

    def in_force(self, license_number: str, at: datetime) -> list[dict[str, Any]]:
        """Return waivers in force at `at`: rule, subject, justification, approver, expiry."""


class NoWaivers:
    """A waiver source that has none (used until a waiver service is wired in)."""

    def in_force(self, license_number: str, at: datetime) -> list[dict[str, Any]]:
        """Return no waivers."""
        return []


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
