"""The event store on SQL (SQLite or PostgreSQL) through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.dedupe import classify
from auditor.domain.errors import Conflict, InvalidInput, UnknownLicense
from auditor.domain.events import EventType
from auditor.domain.findings import Evaluation
from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.domain.trail import Change
from auditor.services.ports import (
    AUDIT_ENGINES,
    Appended,
    Batch,
    Finish,
    ImportOpening,
    ImportSummary,
    RuleEvaluator,
)
from auditor.store import rules_sql
from auditor.store.analytical import analytical_copy
from auditor.store.audit_runs import SqlAuditRuns
from auditor.store.bulk import PostgresBulk, bulk_for
from auditor.store.engine import WRITE, lock_then_read, single_statements
from auditor.store.ingest_session import GroupedWriter
from auditor.store.organizations_sql import organization_id
from auditor.store.schema import events, imports, licenses, organizations
from auditor.store.trail_sql import record


class SqlEventStore:
    """EventStore on a SQLAlchemy engine; every write is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = single_statements(engine)  # one-statement reads: no BEGIN/ROLLBACK trips
        self._license_ids: dict[str, int] = {}
        self.runs = SqlAuditRuns(engine)
        self._bulk = bulk_for(engine.dialect.name)

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
        with self._write() as conn, conn.begin():
            row["organization_id"] = organization_id(conn, license.organization)
            try:
                conn.execute(licenses.insert(), row)
            except IntegrityError:
                raise Conflict(f"license {license.number} already exists") from None
            trailed = {k: v for k, v in row.items() if k not in ("created_at", "organization_id")}
            record(conn, Change("license.add", "license", license.number, license.number,
                                None, {**trailed, "organization": license.organization}))

    def get_license(self, number: str) -> License:
        """Return the license with that number; UnknownLicense if none."""
        with self._reads.connect() as conn:
            row = conn.execute(_licenses().where(licenses.c.number == number)).first()
        if row is None:
            raise UnknownLicense(number)
        return _license(row)

    def list_licenses(self) -> list[License]:
        """Return every license, ordered by number."""
        with self.engine.connect() as conn:
            rows = conn.execute(_licenses().order_by(licenses.c.number)).all()
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
        opening = ImportOpening(fmt, source, sha256, started_at)
        with self._write() as conn, conn.begin():
            return self._open(conn, self._license_id(license_number), opening)

    def _open(self, conn: Any, license_id: int, opening: ImportOpening) -> int:
        row = {
            "license_id": license_id, "format": opening.format,
            "source_name": opening.source[-500:], "sha256": opening.sha256, "status": "running",
            "started_at": opening.started_at, "heartbeat_at": datetime.now(UTC), "rows_read": 0,
            "accepted": 0, "duplicates": 0, "rejected": 0, "events_added": 0, "rejections": [],
            "ignored_fields": [],
        }
        return int(conn.execute(imports.insert().returning(imports.c.id), row).scalar_one())

    def finish_import(self, summary: ImportSummary, finished_at: datetime) -> None:
        """Record an import's final counts and rejections."""
        with self._write() as conn, conn.begin():
            self._finish(conn, summary, finished_at)

    def _finish(self, conn: Any, summary: ImportSummary, finished_at: datetime,
                sha256: str | None = None) -> None:
        values = {
            "status": "completed", "finished_at": finished_at, "rows_read": summary.rows_read,
            "accepted": summary.accepted, "duplicates": summary.duplicates,
            "rejected": summary.rejected, "events_added": summary.events_added,
            "rejections": [{"line": r.line, "reason": r.reason} for r in summary.rejections],
            "ignored_fields": sorted(summary.ignored_fields),
        }
        conn.execute(update(imports).where(imports.c.id == summary.import_id).values(values))
        record(conn, _import_change(conn, summary, values, sha256))

    def append(self, batch: Batch, finish: Finish | None = None) -> Appended:
        """Store the new events of a batch in one transaction and say what became of each record.

        The import is opened (batch.opening) and finished (finish) in the same transaction.
        """
        with self._write() as conn, conn.begin():
            return self._append_in(conn, batch, finish)

    @contextmanager
    def ingest_session(self) -> Iterator[GroupedWriter]:
        """Yield a writer whose appends share transactions of many records (bulk ingest)."""
        writer = GroupedWriter(self._write, self._append_in)
        try:
            yield writer
        except BaseException:
            writer.close(commit=False)
            raise
        writer.close(commit=True)

    def _append_in(self, conn: Any, batch: Batch, finish: Finish | None) -> Appended:
        """Append a batch inside the caller's write transaction.

        The import's own row is written before the license lock is taken (no other
        writer touches it), so the lock is held only from the key lookup to the commit.
        """
        license_id = self._license_id(batch.license_number)
        import_id = batch.import_id
        if import_id is None:
            assert batch.opening is not None, "a batch needs an import id or an opening"
            import_id = self._open(conn, license_id, batch.opening)
        else:  # each chunk stored is the import's sign of life (fail_stalled_imports)
            conn.execute(update(imports).where(imports.c.id == import_id)
                         .values(heartbeat_at=datetime.now(UTC)))
        cursor = conn.connection.dbapi_connection.cursor()
        keys = list({event.natural_key for record in batch.records for event in record})
        outcomes, new = (classify(batch.records, self._locked_fingerprints(
            conn, cursor, license_id, keys)) if batch.records else ([], []))
        if new:
            self._bulk.insert(cursor, license_id, import_id, batch.source,
                              batch.recorded_at, new)
        appended = Appended(outcomes, len(new), import_id)
        if finish:
            # A file of one batch carries its hash here: no need to read it back.
            self._finish(conn, finish(appended), datetime.now(UTC),
                         batch.opening.sha256 if batch.opening else None)
        return appended

    def fail_stalled_imports(self, stale_before: datetime, at: datetime) -> list[int]:
        """Mark imports running without a sign of life since stale_before failed; return ids.

        An import stores its rows a chunk at a time and each chunk moves its heartbeat;
        one that stopped moving belongs to a process that died (killed, crashed, the
        machine lost). Its stored rows stay (they are evidence); importing the file
        again stores the rest and counts those as duplicates.
        """
        stale = (imports.c.status == "running") & (
            func.coalesce(imports.c.heartbeat_at, imports.c.started_at) < stale_before)
        with self._write() as conn, conn.begin():
            rows = conn.execute(select(imports.c.id, imports.c.heartbeat_at,
                                       imports.c.started_at, licenses.c.number)
                                .join(licenses, licenses.c.id == imports.c.license_id)
                                .where(stale)).all()
            for row in rows:
                last = row.heartbeat_at or row.started_at
                reason = (f"interrupted: no progress since {last.isoformat(timespec='seconds')}"
                          " (the importing process stopped); import the file again to store "
                          "the rest of its rows")
                conn.execute(update(imports).where(imports.c.id == row.id, stale)
                             .values(status="failed", finished_at=at, error=reason))
                record(conn, Change("import.interrupted", "import", str(row.id), row.number,
                                    {"status": "running"}, {"status": "failed",
                                                            "reason": reason}))
        return [int(row.id) for row in rows]

    def _locked_fingerprints(self, conn: Any, cursor: Any, license_id: int,
                             keys: list[str]) -> dict[str, str]:
        """Lock the license's writers out, then return the stored fingerprints of keys.

        The lock serialises writers of one license, so the keys read stay true until
        commit (and events get their ids in commit order). SQLite's BEGIN IMMEDIATE
        already holds the database's single write lock; on PostgreSQL the lock and the
        lookup go in one round trip.
        """
        if self.engine.dialect.name != "postgresql":
            return self._bulk.fingerprints(cursor, license_id, keys)
        return dict(lock_then_read(conn, "license", license_id, PostgresBulk.LOOKUP,
                                   (keys, license_id)))

    def refresh_statistics(self) -> None:
        """Give the planner statistics of the events table once, if it has none."""
        refresh_statistics(self.engine)

    def evaluate(self, license_number: str, rule: Rule, start: datetime,
                 end: datetime) -> Evaluation:
        """Evaluate a rule over a license's events in [start, end), judged as of end."""
        return rules_sql.evaluate(self.engine, rule, self._license_id(license_number),
                                  self.get_license(license_number), start, end)

    @contextmanager
    def audit_engine(self, license_number: str, engine: str = "sql") -> Iterator[RuleEvaluator]:
        """Yield where an audit evaluates its rules: this store ("sql"), or a DuckDB copy of
        the license's events ("duckdb"; measured slower on a year so far, see README)."""
        if engine not in AUDIT_ENGINES:
            raise InvalidInput(f"unknown audit engine {engine!r}: use one of "
                               f"{', '.join(AUDIT_ENGINES)}")
        if engine == "sql":
            yield self
            return
        with analytical_copy(self.engine, self._license_id(license_number),
                             self.get_license(license_number)) as copy:
            yield copy

    def event_counts(self, license_number: str, start: datetime | None = None,
                     end: datetime | None = None) -> dict[str, int]:
        """Return the number of stored events of each type for a license (in [start, end))."""
        period = ([events.c.occurred_at >= start] if start else []) + (
            [events.c.occurred_at < end] if end else [])
        query = (select(events.c.type, func.count())
                 .where(events.c.license_id == self._license_id(license_number), *period)
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


def _import_change(conn: Any, summary: ImportSummary, values: dict[str, Any],
                   sha256: str | None) -> Change:
    """Return the one trail entry of an import: the file's hash and what became of its rows."""
    if sha256 is None:
        sha256 = conn.scalar(select(imports.c.sha256).where(imports.c.id == summary.import_id))
    counts = {k: values[k] for k in ("status", "rows_read", "accepted", "duplicates",
                                     "rejected", "events_added")}
    return Change("import", "import", str(summary.import_id), summary.license,
                  {"status": "running"}, {"format": summary.format, "source": summary.source,
                                          "sha256": sha256, **counts})


def _licenses() -> Any:
    return select(licenses, organizations.c.name.label("organization")).join(
        organizations, organizations.c.id == licenses.c.organization_id)


def _license(row: Any) -> License:
    return License(number=row.number, state=row.state, timezone=row.timezone,
                   sales_floor_locations=tuple(row.sales_floor_locations),
                   business_name=row.business_name,
                   vault_locations=tuple(row.vault_locations), organization=row.organization)


def refresh_statistics(engine: Engine) -> None:
    """Give the planner statistics of the events table once, if it has none.

    Without them SQLite matches receipts through the package index and reads every
    event of a package; the shape of the data, not its size, decides the plan, so
    statistics gathered once stay good as the store grows. PostgreSQL's autovacuum
    keeps them, unless it is off (as on this project's CI machine): then once here.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            analysed = conn.exec_driver_sql(
                "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
                "WHERE relid = 'events'::regclass").scalar()
        if analysed is None:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE events")
        return
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        known = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar()
        if not known or not conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'events'").scalar():
            conn.exec_driver_sql("ANALYZE")
