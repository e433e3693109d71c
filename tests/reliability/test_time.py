"""Naive datetimes never reach the store: refused at ingest and at the core, none stored.

A corpus of times with and without UTC offsets goes through the CSV and canonical
importers; every time without an offset is rejected with its line, and every stored
time is the instant the source meant (an offset dropped somewhere would show as an
hour shift here). Then every timestamp column of the store is checked: on PostgreSQL
each is `timestamp with time zone`, and every value reads back as an aware UTC time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from auditor.domain.errors import NaiveDateTime
from auditor.domain.events import Event, EventType
from auditor.services.ingest import ingest
from auditor.store.schema import UTCDateTime, events, metadata
from tests.api.conftest import POS_HEADER
from tests.conftest import LICENSE

# (source time, the instant it means, or None when it has no offset and must be refused)
TIMES = [("2026-01-05T10:00:00-08:00", datetime(2026, 1, 5, 18, 0, tzinfo=UTC)),
         ("2026-03-08T03:30:00-07:00", datetime(2026, 3, 8, 10, 30, tzinfo=UTC)),  # PDT begins
         ("2026-11-01T01:30:00-08:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),  # 2nd 1:30
         ("2026-01-05T18:00:00Z", datetime(2026, 1, 5, 18, 0, tzinfo=UTC)),
         ("2026-01-05T23:30:00+05:30", datetime(2026, 1, 5, 18, 0, tzinfo=UTC)),
         ("2026-01-05T10:00:00", None), ("2026-01-05 10:00", None), ("2026-01-05", None),
         ("2026-03-08T02:30:00", None)]  # a local time that does not exist in Los Angeles


def pos_file() -> bytes:
    return (POS_HEADER + "".join(
        f"T{n},1,{when},1A4FF0100000022000000123,SKU1,Gummies,Edible,1,Each,10.00,10.00,"
        f"Consumer,C1,ann,false\n" for n, (when, _) in enumerate(TIMES))).encode()


def events_file() -> bytes:
    return "\n".join(json.dumps({
        "type": "move", "natural_key": f"E{n}", "occurred_at": when,
        "payload": {"label": "1A4FF0100000022000000123", "to_location": "Vault"}})
        for n, (when, _) in enumerate(TIMES)).encode()


def timestamp_columns() -> list[sa.Column]:
    return [column for table in metadata.sorted_tables for column in table.columns
            if isinstance(column.type, UTCDateTime)]


def naive_columns(store) -> int:
    """Count PostgreSQL timestamp columns that keep no zone (SQLite has no such type)."""
    if store.engine.dialect.name != "postgresql":
        return 0
    with store.engine.connect() as conn:
        kinds = dict(conn.execute(sa.text(
            "SELECT data_type, count(*) FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND data_type LIKE 'timestamp%'"
            " GROUP BY data_type")).all())
    assert kinds.get("timestamp with time zone", 0) >= len(timestamp_columns())
    return kinds.get("timestamp without time zone", 0)


def stored_times(store) -> list[datetime]:
    """Return every value of every timestamp column, read back through the store's types."""
    values: list[datetime] = []
    with store.engine.connect() as conn:
        for column in timestamp_columns():
            values += conn.execute(sa.select(column).where(column.is_not(None))).scalars()
    return values


@pytest.mark.reliability
def test_naive_datetimes_are_refused_and_none_is_stored(sql_store, figure):
    results = [ingest(sql_store, LICENSE.number, "pos-sales", "times.csv", pos_file()),
               ingest(sql_store, LICENSE.number, "events", "times.ndjson", events_file())]
    naive_lines = sorted(n + 2 for n, (_, instant) in enumerate(TIMES) if instant is None)
    refused = 0
    for result, first_line in zip(results, (2, 1), strict=True):
        lines = sorted(r.line for r in result.rejections)
        assert lines == [line - 2 + first_line for line in naive_lines], result.rejections
        refused += len(lines)
    with pytest.raises(NaiveDateTime):
        Event(EventType.MOVE, datetime(2026, 1, 5, 10), "core", {"to_location": "Vault"})
    refused += 1

    expected = {f"{p}{n}": instant for n, (_, instant) in enumerate(TIMES) if instant
                for p in ("T", "E")}
    with sql_store.engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.natural_key, events.c.occurred_at)).all()
    shifted = sum(when != expected[key.split(":")[1]] for key, when in rows)  # type:key:line
    values = stored_times(sql_store)
    naive = naive_columns(sql_store) + shifted + sum(
        v.tzinfo is None or v.utcoffset() != UTC.utcoffset(None) for v in values)
    database = sql_store.engine.dialect.name
    figure("time: naive datetimes refused at ingest and at the core", refused,
           of=len(naive_lines) * 2 + 1, database=database)
    figure("time: naive datetimes stored", naive, of=len(values), database=database,
           columns=len(timestamp_columns()))
    assert len(rows) == len(expected)
    assert naive == 0
