"""In-memory packet records and activity log, the test doubles of the report ports."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from auditor.domain.errors import Conflict
from auditor.domain.events import EventType
from auditor.domain.events import EventType as T
from auditor.services.count_coverage import COVERAGE_TYPES
from auditor.services.ledger import LEDGER_TYPES, Ledger
from auditor.services.report_ports import (
    AgreeingSales,
    LoggedEvent,
    PackageState,
    PacketVersion,
    SaleMatch,
    SaleSide,
    WeekSales,
    agrees,
)


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
    """An activity log over a list of events, for unit tests of logs and reports.

    Its aggregates replay the events through the reports' `Ledger`: the reference the
    SQL adapter's grouped sums are compared with.
    """

    def __init__(self, license_number: str, events: list[LoggedEvent]) -> None:
        self.license_number = license_number
        self.stored = sorted(events, key=lambda e: (e.occurred_at, e.id))

    def events(self, license_number: str, types: Collection[EventType],
               start: datetime | None, end: datetime,
               fields: Collection[str] | None = None) -> list[LoggedEvent]:
        """Return the license's events of those types in [start, end), oldest first."""
        found = [e for e in self.stored if license_number == self.license_number
                 and e.type in types and e.occurred_at < end
                 and (start is None or e.occurred_at >= start)]
        if fields is None:
            return found
        return [replace(e, payload={k: v for k, v in e.payload.items() if k in fields})
                for e in found]

    def coverage_events(self, license_number: str, start: datetime, end: datetime,
                        fields: Collection[str]) -> list[LoggedEvent]:
        """Return every event the coverage log replays, sale lines one by one."""
        return self.events(license_number, COVERAGE_TYPES, start, end, fields)

    def packages_at(self, license_number: str, at: datetime) -> dict[str, PackageState]:
        """Return {label: state} of every package with an event before `at`."""
        ledger = Ledger().replay(self.events(license_number, LEDGER_TYPES, None, at))
        return {label: replace(state, pos=0.0) for label, state in ledger.packages.items()
                if label}

    def counted(self, license_number: str, start: datetime,
                end: datetime) -> list[tuple[LoggedEvent, PackageState]]:
        """Return each count line in [start, end) with its package's state then."""
        described, ledger, found = self.packages_at(license_number, end), Ledger(), []
        lines = self.events(license_number, (*LEDGER_TYPES, T.COUNT_LINE), None, end)
        for _, instant in groupby(lines, key=lambda e: e.occurred_at):
            group = list(instant)  # on-hand at a moment counts every event of that moment
            for event in group:
                if event.type is not T.COUNT_LINE:
                    ledger.apply(event)
            for event in group:
                if event.type is T.COUNT_LINE and event.occurred_at >= start:
                    label = event.package_label or ""
                    now = ledger.state(label)
                    state = replace(described.get(label) or PackageState(label),
                                    metrc=now.metrc, pos=now.pos)
                    found.append((event, state))
        return found

    def sales_by_week(self, license_number: str, weeks: Sequence[tuple[date, datetime]],
                      end: datetime) -> list[WeekSales]:
        """Return POS sales per package and week, from the first week's start to `end`."""
        found: dict[tuple[str, date], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        starts = [start for _, start in weeks]
        for e in self.events(license_number, (T.POS_SALE_LINE,), starts[0], end):
            p = e.payload
            if p.get("voided"):
                continue
            week = weeks[bisect_right(starts, e.occurred_at) - 1][0]
            entry = found[(e.package_label or "", week)]
            quantity = p.get("quantity") or 0.0
            entry[0] += quantity
            total = p.get("total_price")  # the line's price; else unit price times quantity
            entry[1] += total if total is not None else (p.get("unit_price") or 0.0) * quantity
            entry[2] += 1
        return [WeekSales(label, week, q, d, int(n))
                for (label, week), (q, d, n) in found.items()]

    def sale_matches(self, license_number: str, zone: str, start: datetime, end: datetime,
                     surely_in_time: timedelta | None) -> tuple[list[AgreeingSales],
                                                                list[SaleMatch]]:
        """Return the period's agreeing sale pairs per local day, and the others in full."""
        days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
        others = []
        for match in self.sale_pairs(license_number, start, end):
            if surely_in_time is None and match.metrc is not None:  # time not judged
                match = replace(match, metrc=replace(match.metrc, recorded_at=None))
            if not agrees(match, surely_in_time):
                others.append(match)
                continue
            assert match.pos is not None and match.metrc is not None
            entry = days[match.pos.first_at.astimezone(ZoneInfo(zone)).date()]
            entry[0] += match.pos.lines
            entry[1] += match.metrc.lines
            entry[2] += 1
        return [AgreeingSales(day, *counts) for day, counts in sorted(days.items())], others

    def sale_pairs(self, license_number: str, start: datetime,
                   end: datetime) -> list[SaleMatch]:
        """Return the period's POS and METRC sale lines paired by receipt and package."""
        sides: dict[tuple[str, str], dict[str, list]] = defaultdict(dict)
        for e in self.events(license_number, (T.POS_SALE_LINE, T.METRC_SALE_LINE), start, end):
            p = e.payload
            if e.type is T.POS_SALE_LINE and p.get("voided"):
                continue
            side = "pos" if e.type is T.POS_SALE_LINE else "metrc"
            receipt = p.get("receipt_id" if side == "pos" else "external_receipt_number")
            entry = sides[(receipt or "", e.package_label or "")].setdefault(
                side, [e.occurred_at, 0.0, p.get("unit"), 0, None])
            entry[1] += p.get("quantity") or 0.0
            entry[3] += 1
            recorded = p.get("recorded_at")
            if side == "metrc" and recorded and (entry[4] is None or recorded > entry[4]):
                entry[4] = recorded
        return [SaleMatch(receipt, label, *(SaleSide(*found[s]) if s in found else None
                                            for s in ("pos", "metrc")))
                for (receipt, label), found in sides.items()]

    def latest_before(self, license_number: str, type: EventType,
                      before: datetime) -> list[LoggedEvent]:
        """Return each package's last event of `type` before `before`."""
        last = {e.package_label: e for e in self.events(license_number, (type,), None, before)}
        return sorted(last.values(), key=lambda e: (e.occurred_at, e.id))
