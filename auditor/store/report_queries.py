"""SQL adapter of the activity log the packets and reports read (SQLAlchemy Core).

The payload column decodes to a dict on both SQLite and PostgreSQL, so one query
serves both databases. The history-dependent figures are grouped sums
(`report_aggregates`), so no caller replays a license's history in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine, select

from auditor.domain.events import EventType
from auditor.domain.license import License
from auditor.services.report_ports import (
    AgreeingSales,
    LoggedEvent,
    PackageState,
    SaleMatch,
    WeekSales,
)
from auditor.store import event_logs_sql as logs
from auditor.store import report_aggregates as sums
from auditor.store.schema import events

Found = TypeVar("Found")


class SqlActivityLog:
    """Reads a license's events by type and period, and the aggregates over its history."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events(self, license_number: str, types: Collection[EventType],
               start: datetime | None, end: datetime,
               fields: Collection[str] | None = None) -> list[LoggedEvent]:
        """Return a license's events of those types in [start, end), oldest first."""
        with self.engine.connect() as conn:
            found = sums.license_of(conn, license_number)
            if found is None:
                return []
            license_id, license = found
            if fields is not None:
                return logs.slim_events(conn, license_id, license, types, start, end, fields)
            query = (select(events.c.id, events.c.type, events.c.occurred_at,
                            events.c.package_label, events.c.reference, events.c.payload)
                     .where(events.c.license_id == license_id,
                            events.c.type.in_([t.value for t in types]),
                            events.c.occurred_at < end)
                     .order_by(events.c.occurred_at, events.c.id))
            if start is not None:
                query = query.where(events.c.occurred_at >= start)
            return [LoggedEvent(row.id, EventType(row.type), row.occurred_at,
                                row.package_label, row.reference, row.payload)
                    for row in conn.execute(query)]

    def _of(self, license_number: str, empty: Found,
            read: Callable[[Connection, int, License], Found]) -> Found:
        """Run `read` on one connection for the license; `empty` for an unknown license."""
        with self.engine.connect() as conn:
            found = sums.license_of(conn, license_number)
            return empty if found is None else read(conn, *found)

    def coverage_events(self, license_number: str, start: datetime, end: datetime,
                        fields: Collection[str]) -> list[LoggedEvent]:
        """Return what the count coverage log replays of [start, end) (see the port)."""
        return self._of(license_number, [], lambda conn, lid, lic: logs.coverage_events(
            conn, lid, lic, start, end, fields))

    def packages_at(self, license_number: str, at: datetime) -> dict[str, PackageState]:
        """Return {label: state} of every package with an event before `at`."""
        return self._of(license_number, {}, lambda conn, lid, lic: sums.packages_at(
            conn, lid, lic, at))

    def counted(self, license_number: str, start: datetime,
                end: datetime) -> list[tuple[LoggedEvent, PackageState]]:
        """Return each count line in [start, end) with its package's state then."""
        return self._of(license_number, [], lambda conn, lid, lic: sums.counted(
            conn, lid, lic, start, end))

    def sales_by_week(self, license_number: str, weeks: Sequence[tuple[date, datetime]],
                      end: datetime) -> list[WeekSales]:
        """Return POS sales per package and week, from the first week's start to `end`."""
        return self._of(license_number, [], lambda conn, lid, lic: sums.sales_by_week(
            conn, lid, lic, weeks, end))

    def sale_matches(self, license_number: str, zone: str, start: datetime, end: datetime,
                     surely_in_time: timedelta | None) -> tuple[list[AgreeingSales],
                                                                list[SaleMatch]]:
        """Return the period's agreeing sale pairs per local day, and the others in full."""
        def read(conn: Connection, lid: int, lic: License) -> tuple[
                list[AgreeingSales], list[SaleMatch]]:
            in_zone = License(lic.number, lic.state, zone)
            return sums.sale_matches(conn, lid, in_zone, start, end, surely_in_time)
        nothing: tuple[list[AgreeingSales], list[SaleMatch]] = ([], [])
        return self._of(license_number, nothing, read)

    def latest_before(self, license_number: str, type: EventType,
                      before: datetime) -> list[LoggedEvent]:
        """Return each package's last event of `type` before `before`."""
        nothing: list[LoggedEvent] = []
        return self._of(license_number, nothing, lambda conn, lid, _: logs.latest_before(
            conn, lid, type, before))
