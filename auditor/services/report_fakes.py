"""In-memory packet records and activity log, the test doubles of the report ports."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from auditor.domain.errors import Conflict
from auditor.domain.events import EventType
from auditor.services.report_ports import LoggedEvent, PacketVersion


class InMemoryPacketRecords:
    """Packet versions in a dict, with the same rules as the SQL records."""

    def __init__(self) -> None:
        self.by_run: dict[str, list[PacketVersion]] = {}

    def versions(self, run_id: str) -> list[PacketVersion]:
        """Return a run's packet versions, oldest first."""
        return list(self.by_run.get(run_id, []))

    def save_draft(self, packet: PacketVersion) -> None:
        """Store or replace version 1 while it is not final."""
        current = self.by_run.get(packet.run_id, [])
        if current and current[0].finalized_at is not None:
            raise Conflict(f"the packet of run {packet.run_id} is final")
        self.by_run[packet.run_id] = [packet]

    def finalize(self, run_id: str, version: int, at: datetime) -> None:
        """Mark a version final; Conflict if it already is."""
        versions = self.by_run[run_id]
        if versions[version - 1].finalized_at is not None:
            raise Conflict(f"version {version} of run {run_id}'s packet is already final")
        versions[version - 1] = replace(versions[version - 1], finalized_at=at)

    def add_version(self, packet: PacketVersion) -> None:
        """Append a final version; Conflict if the number is taken."""
        versions = self.by_run.setdefault(packet.run_id, [])
        if len(versions) != packet.version - 1:
            raise Conflict(f"packet version {packet.version} of run {packet.run_id} exists")
        versions.append(packet)


class InMemoryActivityLog:
    """An activity log over a list of events, for unit tests of logs and reports."""

    def __init__(self, license_number: str, events: list[LoggedEvent]) -> None:
        self.license_number = license_number
        self.stored = sorted(events, key=lambda e: (e.occurred_at, e.id))

    def events(self, license_number: str, types: Collection[EventType],
               start: datetime | None, end: datetime) -> list[LoggedEvent]:
        """Return the license's events of those types in [start, end), oldest first."""
        return [e for e in self.stored if license_number == self.license_number
                and e.type in types and e.occurred_at < end
                and (start is None or e.occurred_at >= start)]
