"""The packet logs' event reads: events with only the fields a log replays, the count
coverage log's events (sales outside counts netted per package), each package's latest
event of a type. SQLAlchemy Core over `sql_fields.Fields`, the same on SQLite and
PostgreSQL; the reports' grouped sums are in `report_aggregates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from auditor.domain.events import EventType as T
from auditor.domain.license import License
from auditor.services.count_coverage import counts_in
from auditor.services.report_ports import LoggedEvent
from auditor.store.report_aggregates import bucket
from auditor.store.schema import events
from auditor.store.sql_fields import Fields


def slim_events(conn: Connection, license_id: int, license: License, types: Iterable[T],
                start: datetime | None, end: datetime,
                names: Iterable[str]) -> list[LoggedEvent]:
    """Return events with only the named payload fields, read in SQL (see ActivityLog)."""
    e = events.alias("e")
    fields, names = Fields(e, conn.dialect.name, license), sorted(names)
    query = (select(e.c.id, e.c.type, e.c.occurred_at, e.c.package_label, e.c.reference,
                    *(fields[name].label(name) for name in names))
             .where(e.c.license_id == license_id, e.c.type.in_([t.value for t in types]),
                    e.c.occurred_at < end)
             .order_by(e.c.occurred_at, e.c.id))
    if start is not None:
        query = query.where(e.c.occurred_at >= start)
    kinds = {t.value: t for t in T}
    return [LoggedEvent(row[0], kinds[row[1]], row[2], row[3], row[4],
                        {name: value for name, value in zip(names, row[5:], strict=True)
                         if value is not None})
            for row in conn.execute(query)]


KEPT = ""  # a piece of time whose METRC sale lines the coverage log reads one by one
MICROSECOND = timedelta(microseconds=1)  # the stores' time resolution


def coverage_events(conn: Connection, license_id: int, license: License, start: datetime,
                    end: datetime, names: Iterable[str]) -> list[LoggedEvent]:
    """Return what the count coverage log replays of [start, end) (ActivityLog's
    coverage_events): the METRC sale lines during a count one by one, the others netted
    per package up to the next count's start, so a year of sales is a few thousand rows."""
    names = sorted(names)
    found = slim_events(conn, license_id, license, (T.MANIFEST_PACKAGE, T.ADJUSTMENT,
                                                    T.COUNT_LINE), start, end, names)
    e = events.alias("e")
    fields = Fields(e, conn.dialect.name, license)
    piece = bucket(e.c.occurred_at, sale_pieces(
        [(c.started, c.ended) for c in counts_in(found, start)], start, end))
    sales = (e.c.license_id == license_id, e.c.type == T.METRC_SALE_LINE.value,
             e.c.occurred_at >= start, e.c.occurred_at < end)
    kept = (select(e.c.id, e.c.occurred_at, e.c.package_label, e.c.reference,
                   *(fields[name].label(name) for name in names))
            .where(*sales, piece == KEPT))
    for row in conn.execute(kept):
        found.append(LoggedEvent(row[0], T.METRC_SALE_LINE, row[1], row[2], row[3], {
            name: value for name, value in zip(names, row[4:], strict=True)
            if value is not None}))
    netted = (select(piece.label("piece"), e.c.package_label,
                     func.sum(func.coalesce(fields["quantity"], 0.0)))
              .where(*sales, piece != KEPT).group_by("piece", e.c.package_label))
    for row in conn.execute(netted):
        found.append(LoggedEvent(0, T.ADJUSTMENT, datetime.fromisoformat(row[0]), row[1],
                                 None, {"quantity": -float(row[2])}))
    return sorted(found, key=lambda event: (event.occurred_at, event.id))


def sale_pieces(spans: Sequence[tuple[datetime, datetime]], start: datetime,
                end: datetime) -> list[tuple[str, datetime]]:
    """Return [start, end) cut into pieces for `bucket`, each named KEPT (within a count's
    span, first to last line) or by when its sale lines are netted: just before the next
    count starts (at the end if none does), so each count starts from the same on-hand."""
    starts = sorted({first for first, _ in spans})
    merged: list[list[datetime]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + MICROSECOND:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    cuts = sorted({start, *starts, *(first for first, _ in merged),
                   *(last + MICROSECOND for _, last in merged)})
    pieces: list[tuple[str, datetime]] = []
    for cut in (c for c in cuts if c < end):
        if any(first <= cut <= last for first, last in merged):
            name = KEPT
        else:
            after = next((s for s in starts if s > cut), end)
            name = (after - MICROSECOND).isoformat()
        if not pieces or pieces[-1][0] != name:
            pieces.append((name, cut))
    return pieces


def latest_before(conn: Connection, license_id: int, type: T,
                  before: datetime) -> list[LoggedEvent]:
    """Return each package's last event of `type` before `before`, oldest first."""
    e = events.alias("e")
    ranked = (select(e.c.id, e.c.occurred_at, e.c.package_label, e.c.reference, e.c.payload,
                     func.row_number().over(partition_by=e.c.package_label,
                                            order_by=(e.c.occurred_at.desc(), e.c.id.desc()))
                     .label("newest"))
              .where(e.c.license_id == license_id, e.c.type == type.value,
                     e.c.occurred_at < before).subquery("ranked"))
    query = (select(ranked).where(ranked.c.newest == 1)
             .order_by(ranked.c.occurred_at, ranked.c.id))
    return [LoggedEvent(row.id, type, row.occurred_at, row.package_label, row.reference,
                        row.payload) for row in conn.execute(query)]
