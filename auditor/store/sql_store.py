"""The event store on SQL (SQLite or PostgreSQL) through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.dedupe import classify
from auditor.domain.errors import Conflict, UnknownLicense
from auditor.domain.events import Event, EventType
from auditor.domain.license import License
from auditor.services.ports import Appended, Batch, ImportSummary
from auditor.store.engine import WRITE
from auditor.store.schema import events, imports, licenses, sqlite_timestamp

KEY_LOOKUP_CHUNK = 5000
ADVISORY_LOCK_SPACE = 0x41554449  # "AUDI": keeps our advisory locks apart from others'



class SqlEventStore:
    """EventStore on a SQLAlchemy engine; every write is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._license_ids: dict[str, int] = {}

    def _write(self) -> Any:
        return self.engine.connect().execution_options(**WRITE)

    def add_license(self, license: License) -> None:
        """Store a new license; Conflict if its number exists."""
        row = {
            "number": license.number, "state": license.state, "timezone": license.timezone,
            "business_name": license.business_name,
            "sales_floor_locations": list(license.sales_floor_locations),
            "vault_locations": list(license.vault_locations), "created_at": datetime.now(UTC),
        }
        try:
            with self._write() as conn, conn.begin():
                conn.execute(licenses.insert(), row)
        except IntegrityError:
            raise Conflict(f"license {license.number} already exists") from None

    def get_license(self, number: str) -> License:
        """Return the license with that number; UnknownLicense if none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(licenses).where(licenses.c.number == number)).first()
        if row is None:
            raise UnknownLicense(number)
        return _license(row)

    def list_licenses(self) -> list[License]:
        """Return every license, ordered by number."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(licenses).order_by(licenses.c.number)).all()
        return [_license(row) for row in rows]

    def _license_id(self, number: str) -> int:
        if number not in self._license_ids:
            with self.engine.connect() as conn:
                found = conn.scalar(select(licenses.c.id).where(licenses.c.number == number))
            if found is None:
                raise UnknownLicense(number)
            self._license_ids[number] = found
        return self._license_ids[number]

    def start_import(self, license_number: str, fmt: str, source: str, sha256: str,
                     started_at: datetime) -> int:
        """Record that an import began and return its id."""
        row = {
            "license_id": self._license_id(license_number), "format": fmt,
            "source_name": source[-500:], "sha256": sha256, "status": "running",
            "started_at": started_at, "rows_read": 0, "accepted": 0, "duplicates": 0,
            "rejected": 0, "events_added": 0, "rejections": [], "ignored_fields": [],
        }
        with self._write() as conn, conn.begin():
            return int(conn.execute(imports.insert().returning(imports.c.id), row).scalar_one())

    def finish_import(self, summary: ImportSummary, finished_at: datetime) -> None:
        """Record an import's final counts and rejections."""
        values = {
            "status": "completed", "finished_at": finished_at, "rows_read": summary.rows_read,
            "accepted": summary.accepted, "duplicates": summary.duplicates,
            "rejected": summary.rejected, "events_added": summary.events_added,
            "rejections": [{"line": r.line, "reason": r.reason} for r in summary.rejections],
            "ignored_fields": sorted(summary.ignored_fields),
        }
        with self._write() as conn, conn.begin():
            conn.execute(update(imports).where(imports.c.id == summary.import_id).values(values))

    def append(self, batch: Batch) -> Appended:
        """Store the new events of a batch in one transaction and say what became of each record."""
        license_id = self._license_id(batch.license_number)
        with self._write() as conn, conn.begin():
            self._lock_license(conn, license_id)
            keys = [event.natural_key for record in batch.records for event in record]
            outcomes, new = classify(batch.records, self._fingerprints(conn, license_id, keys))
            if new:
                self._insert(conn, [_event_row(e, license_id, batch) for e in new])
            return Appended(outcomes, len(new))

    def _insert(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        """Bulk-insert event rows through the driver's fastest path, inside conn's transaction.

        Imports write millions of rows, and SQLAlchemy's per-row parameter handling
        cost more than the database did, so rows go to the driver directly: COPY on
        PostgreSQL, executemany on SQLite (times as SQLAlchemy's SQLite format).
        """
        cursor = conn.connection.dbapi_connection.cursor()
        recorded = sqlite_timestamp(rows[0][_RECORDED])  # one import time per batch
        if self.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor.executemany(SQLITE_INSERT, [_sqlite_row(row, recorded) for row in rows])

    def _lock_license(self, conn: Any, license_id: int) -> None:
        """Serialise writers of one license, so the keys read stay true until commit.

        SQLite's BEGIN IMMEDIATE already holds the database's single write lock.
        """
        if self.engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_SPACE, license_id)))

    def _fingerprints(self, conn: Any, license_id: int, keys: list[str]) -> dict[str, str]:
        query = select(events.c.natural_key, events.c.fingerprint).where(
            events.c.license_id == license_id,
            events.c.natural_key.in_(bindparam("keys", expanding=True)))
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(keys)), KEY_LOOKUP_CHUNK):
            found.update((key, fp) for key, fp in conn.execute(query, {"keys": chunk}))
        return found

    def event_counts(self, license_number: str) -> dict[str, int]:
        """Return the number of stored events of each type for a license."""
        query = (select(events.c.type, func.count())
                 .where(events.c.license_id == self._license_id(license_number))
                 .group_by(events.c.type))
        with self.engine.connect() as conn:
            return {kind: count for kind, count in conn.execute(query)}

    def earliest(self, license_number: str, event_type: EventType,
                 reference: str) -> datetime | None:
        """Return when the first event of a type with that reference occurred, if any."""
        query = select(func.min(events.c.occurred_at)).where(
            events.c.license_id == self._license_id(license_number),
            events.c.type == event_type.value, events.c.reference == reference)
        with self.engine.connect() as conn:
            return conn.scalar(query)


EVENT_COLUMNS = ("license_id", "type", "occurred_at", "natural_key", "fingerprint",
                 "package_label", "reference", "source", "import_id", "recorded_at", "payload")
SQLITE_INSERT = (f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})")
_OCCURRED, _RECORDED = EVENT_COLUMNS.index("occurred_at"), EVENT_COLUMNS.index("recorded_at")


def _event_row(event: Event, license_id: int, batch: Batch) -> tuple[Any, ...]:
    return (license_id, event.type.value, event.occurred_at, event.natural_key,
            event.fingerprint, event.package_label, event.reference, batch.source,
            batch.import_id, batch.recorded_at, event.payload_json)


def _sqlite_row(row: tuple[Any, ...], recorded: str) -> tuple[Any, ...]:
    values = list(row)
    # Event times are aware UTC already (Event checks), so only the zone is dropped.
    values[_OCCURRED] = values[_OCCURRED].replace(tzinfo=None).isoformat(" ", "microseconds")
    values[_RECORDED] = recorded
    return tuple(values)


def _license(row: Any) -> License:
    return License(number=row.number, state=row.state, timezone=row.timezone,
                   sales_floor_locations=tuple(row.sales_floor_locations),
                   business_name=row.business_name,
                   vault_locations=tuple(row.vault_locations))


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
