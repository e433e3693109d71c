"""SQL adapter of the activity log the packets and reports read (SQLAlchemy Core).

The payload column decodes to a dict on both SQLite and PostgreSQL, so one query
serves both databases.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Engine, select

from auditor.domain.events import EventType
from auditor.services.report_ports import LoggedEvent
from auditor.store.schema import events, licenses


class SqlActivityLog:
    """Reads a license's events by type and period for the supporting logs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events(self, license_number: str, types: Collection[EventType],
               start: datetime | None, end: datetime) -> list[LoggedEvent]:
        """Return a license's events of those types in [start, end), oldest first."""
        query = (select(events.c.id, events.c.type, events.c.occurred_at,
                        events.c.package_label, events.c.reference, events.c.payload)
                 .join(licenses, licenses.c.id == events.c.license_id)
                 .where(licenses.c.number == license_number,
                        events.c.type.in_([t.value for t in types]),
                        events.c.occurred_at < end)
                 .order_by(events.c.occurred_at, events.c.id))
        if start is not None:
            query = query.where(events.c.occurred_at >= start)
        with self.engine.connect() as conn:
            return [LoggedEvent(row.id, EventType(row.type), row.occurred_at,
                                row.package_label, row.reference, row.payload)
                    for row in conn.execute(query)]
