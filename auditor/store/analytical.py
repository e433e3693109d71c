"""An analytical copy of one license's events in DuckDB, for audits of long periods.

The store of record stays SQLite or PostgreSQL. For a long period the batch audit copies
the license's events once into an in-memory DuckDB database (columnar, vectorised, hash
joins on both cores) and runs the very same compiled rules there (`rules_sql`, DuckDB
reading the PostgreSQL way through the duckdb_engine dialect), so the findings are the
same whatever the engine; `tests/integration/test_rule_cases.py` holds every rule case
to it. The copy goes through a newline-delimited JSON file that the store itself writes
(SQLite's json_object, PostgreSQL's COPY), which DuckDB reads in parallel: no Arrow,
no pandas, no row-by-row inserts. Every event of the license is copied, not only the
period's, because rules look back (a transfer before a move, the state of a package).

This module is the one place that imports DuckDB.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import duckdb_engine
from sqlalchemy import Engine, create_engine

from auditor.domain.findings import Evaluation
from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.store import rules_sql

# The columns the copy carries, with their DuckDB types; the other columns of the
# events table (natural key, fingerprint, import) are left NULL: no rule reads them.
COPIED = {"id": "BIGINT", "type": "VARCHAR", "occurred_at": "TIMESTAMP",
          "package_label": "VARCHAR", "reference": "VARCHAR", "payload": "VARCHAR"}

MEMORY_LIMIT = "600MB"  # DuckDB's own; Python and the store's driver come on top

_SQLITE_EXPORT = (
    "SELECT json_object('id', id, 'type', type, 'occurred_at', occurred_at, "
    "'package_label', package_label, 'reference', reference, 'payload', payload) "
    "|| char(10) FROM events WHERE license_id = ?")
# COPY's csv format quotes nothing here (no delimiter, quote or newline in a JSON line).
_POSTGRES_EXPORT = (
    "COPY (SELECT json_build_object('id', id, 'type', type, 'occurred_at', "
    "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
    "'package_label', package_label, 'reference', reference, 'payload', payload::text) "
    "FROM events WHERE license_id = {license_id}) TO STDOUT "
    "WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')")


class AnalyticalCopy:
    """One license's events copied into DuckDB; evaluates rules as the SQL store does."""

    def __init__(self, source: Engine, license_id: int, license: License) -> None:
        """Copy the license's events from the store of record (source) into DuckDB."""
        self.license_id, self.license = license_id, license
        self._folder = Path(tempfile.mkdtemp(prefix="auditor-copy-"))
        self.database = duckdb.connect(":memory:")
        # DuckDB spills joins, sorts and windows to the folder beyond this: the audit of
        # a year stays under the 1 GB the issue allows (the copy itself is ~0.5 GB).
        self.database.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self.database.execute("SET temp_directory = ?", [str(self._folder / "spill")])
        self.database.execute("SET preserve_insertion_order = false")
        self.database.execute("SET TimeZone = 'UTC'")
        try:
            export = self._folder / "events.ndjson"
            export_events(source, license_id, export)
            self._load(export)
            export.unlink()
        except BaseException:
            self.close()
            raise
        # Each pooled connection is a cursor of the one in-memory database, so rules can
        # run on parallel threads as they do against the store of record.
        self.engine = create_engine("duckdb:///:memory:", creator=self._connection)

    def _connection(self) -> Any:
        return duckdb_engine.ConnectionWrapper(self.database.cursor())

    def _load(self, export: Path) -> None:
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in COPIED.items())
        # Sorted by type and package, so DuckDB's per-block min/max skip most of the
        # table when a query reads one event type or one package.
        self.database.execute(f"""
            CREATE TABLE events AS SELECT id, {self.license_id} AS license_id, type,
                occurred_at::TIMESTAMPTZ AS occurred_at, NULL::VARCHAR AS natural_key,
                NULL::VARCHAR AS fingerprint, package_label, reference,
                NULL::VARCHAR AS source, NULL::BIGINT AS import_id,
                NULL::TIMESTAMPTZ AS recorded_at, payload::JSON AS payload
            FROM read_json(?, format = 'newline_delimited', columns = {{{columns}}})
            ORDER BY type, package_label, occurred_at""", [str(export)])

    def evaluate(self, license_number: str, rule: Rule, start: datetime,
                 end: datetime) -> Evaluation:
        """Evaluate a rule over the copied events in [start, end), judged as of end."""
        assert license_number == self.license.number, "the copy holds one license"
        return rules_sql.evaluate(self.engine, rule, self.license_id, self.license, start, end)

    def close(self) -> None:
        """Drop the copy and its files."""
        if hasattr(self, "engine"):
            self.engine.dispose()
        self.database.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def export_events(source: Engine, license_id: int, path: Path) -> None:
    """Write every event of a license as one JSON object a line (the store builds the text)."""
    with source.connect() as conn, open(path, "w", encoding="utf-8") as out:
        raw: Any = conn.connection.dbapi_connection
        if source.dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(
                    _POSTGRES_EXPORT.format(license_id=int(license_id))) as copy:
                for block in copy:
                    out.write(bytes(block).decode("utf-8"))
            return
        cursor = raw.cursor()
        try:
            cursor.execute(_SQLITE_EXPORT, (license_id,))
            while rows := cursor.fetchmany(10_000):
                out.writelines(row[0] for row in rows)
        finally:
            cursor.close()


@contextmanager
def analytical_copy(source: Engine, license_id: int,
                    license: License) -> Iterator[AnalyticalCopy]:
    """Yield a DuckDB copy of the license's events, dropped afterwards."""
    copy = AnalyticalCopy(source, license_id, license)
    try:
        yield copy
    finally:
        copy.close()
