"""Idempotency keys on SQL: a unique pending row reserves a key before its upload is imported.

Each call is one statement (the license's id is looked up once per process: a license
never changes id), so on PostgreSQL it runs in autocommit: an upload's reserve and
complete cost one round trip each besides the pool's ping, not a transaction's four.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.trail import Change
from auditor.services.api_ports import KeyState
from auditor.store.engine import WRITE, single_statements
from auditor.store.schema import idempotency_keys as keys
from auditor.store.schema import imports, licenses
from auditor.store.trail_sql import record


class SqlIdempotencyKeys:
    """IdempotencyKeys on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = single_statements(engine)
        self._one_write = single_statements(engine, write=True)
        self._license_ids: dict[str, int] = {}

    def _write(self) -> Any:
        return self.engine.connect().execution_options(**WRITE)

    def _license_id(self, conn: Any, number: str) -> int:
        if number not in self._license_ids:
            self._license_ids[number] = int(conn.scalar(
                select(licenses.c.id).where(licenses.c.number == number)))
        return self._license_ids[number]

    def _key(self, conn: Any, license_number: str, key: str) -> Any:
        return (keys.c.license_id == self._license_id(conn, license_number)) & (keys.c.key == key)

    def reserve(self, license_number: str, key: str, request_sha256: str,
                at: datetime) -> bool:
        """Insert a pending key; False if the key exists already (the unique key decides)."""
        try:
            with self._one_write.connect() as conn, conn.begin():
                conn.execute(insert(keys), {
                    "license_id": self._license_id(conn, license_number), "key": key,
                    "request_sha256": request_sha256, "response": {}, "created_at": at,
                    "status": "pending"})
        except IntegrityError:
            return False
        return True

    def state(self, license_number: str, key: str) -> KeyState | None:
        """Return a key's state, or None."""
        with self._reads.connect() as conn:
            row = conn.execute(select(keys).where(self._key(conn, license_number, key))).first()
        return KeyState(row.request_sha256, row.status, dict(row.response),
                        row.created_at) if row else None

    def take_over(self, license_number: str, key: str, stale_before: datetime,
                  at: datetime) -> bool:
        """Reserve a key still pending since before stale_before anew; False if another did."""
        with self._write() as conn, conn.begin():
            done = conn.execute(update(keys).where(
                self._key(conn, license_number, key), keys.c.status == "pending",
                keys.c.created_at < stale_before).values(created_at=at))
            return done.rowcount == 1

    def complete(self, license_number: str, key: str, response: dict[str, Any]) -> bool:
        """Store a pending key's answer; False if it was done already."""
        with self._one_write.connect() as conn, conn.begin():
            done = conn.execute(update(keys).where(
                self._key(conn, license_number, key), keys.c.status == "pending")
                .values(status="done", response=response))
            return done.rowcount == 1

    def release(self, license_number: str, key: str) -> None:
        """Drop a pending key whose work failed, so a retry can do it."""
        with self._one_write.connect() as conn, conn.begin():
            conn.execute(delete(keys).where(self._key(conn, license_number, key),
                                            keys.c.status == "pending"))

    def fail_interrupted_imports(self, license_number: str, sha256: str,
                                 started_before: datetime, at: datetime) -> list[int]:
        """Mark imports of a file still running since before a time failed; return their ids."""
        with self._write() as conn, conn.begin():
            license_id = self._license_id(conn, license_number)
            stale = (imports.c.license_id == license_id) & (imports.c.sha256 == sha256) & (
                imports.c.status == "running") & (imports.c.started_at < started_before)
            ids = [int(i) for i in conn.scalars(select(imports.c.id).where(stale))]
            for import_id in ids:
                conn.execute(update(imports).where(imports.c.id == import_id)
                             .values(status="failed", finished_at=at))
                record(conn, Change("import.interrupted", "import", str(import_id),
                                    license_number, {"status": "running"},
                                    {"status": "failed", "reason": "interrupted; retried"}))
            return ids
