"""The audit trail on SQL: entries appended inside the transaction of the change they record.

`record(conn, change)` is the one call every adapter makes before it commits a change:
if the trail write fails, the change rolls back with it. Appends are serialised so two
writers cannot fork the chain: SQLite's writers already hold its single write lock
(BEGIN IMMEDIATE), PostgreSQL's take a transaction-scoped advisory lock, and in both the
primary key on seq and an insert guard refuse an entry that does not follow the head.
Migration 0007 installs the guards below, which refuse UPDATE, DELETE, INSERT OR
REPLACE and TRUNCATE, whoever attempts them.

The HMAC key, when there is one, travels with the engine as an execution option set by
`with_trail_key`, so it is never stored and no adapter needs to be handed it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, LargeBinary, cast, select

from auditor.domain.trail import GENESIS, STORED, Change, Entry, Head, current_actor, decode, seal
from auditor.store.engine import WRITE, lock_then_read
from auditor.store.schema import audit_runs, licenses
from auditor.store.schema import audit_trail as trail

KEY_OPTION = "auditor_trail_key"
APPEND_ONLY = "the audit trail is append-only"
NOT_NEXT = "an audit trail entry must follow the head of the chain"

_NEXT_SQL = (f"NEW.seq IS NULL OR NEW.seq <> coalesce((SELECT max(seq) FROM audit_trail), 0) + 1"
             f" OR NEW.prev_hash <> coalesce((SELECT hash FROM audit_trail ORDER BY seq DESC "
             f"LIMIT 1), '{GENESIS}')")
_HEAD_SQL = "SELECT seq, hash FROM audit_trail ORDER BY seq DESC LIMIT 1"
GUARDS = {
    "sqlite": [
        *(f"CREATE TRIGGER audit_trail_no_{verb.lower()} BEFORE {verb} ON audit_trail "
          f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END" for verb in ("UPDATE", "DELETE")),
        # INSERT OR REPLACE of an existing seq, or any entry off the head, stops here.
        f"CREATE TRIGGER audit_trail_next_only BEFORE INSERT ON audit_trail WHEN {_NEXT_SQL} "
        f"BEGIN SELECT RAISE(ABORT, '{NOT_NEXT}'); END"],
    "postgresql": [
        f"""CREATE FUNCTION auditor_trail_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP <> 'INSERT' THEN RAISE EXCEPTION '{APPEND_ONLY}'; END IF;
              IF {_NEXT_SQL} THEN RAISE EXCEPTION '{NOT_NEXT}'; END IF;
              RETURN NEW;
            END $$""",
        "CREATE TRIGGER audit_trail_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_trail "
        "FOR EACH ROW EXECUTE FUNCTION auditor_trail_guard()",
        "CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON audit_trail "
        "FOR EACH STATEMENT EXECUTE FUNCTION auditor_trail_guard()"],
}


def with_trail_key(engine: Engine, key: bytes | None) -> Engine:
    """Return the engine whose connections seal trail entries with key (unchanged if None)."""
    return engine.execution_options(**{KEY_OPTION: key}) if key else engine


def record(conn: Any, change: Change, at: datetime | None = None) -> Entry:
    """Append the entry recording change in conn's transaction, after the current head."""
    if conn.dialect.name == "postgresql":  # the lock and the head in one round trip
        newest = next(iter(lock_then_read(conn, "trail", 0, _HEAD_SQL, ())), None)
    else:
        newest = conn.execute(select(trail.c.seq, trail.c.hash)
                              .order_by(trail.c.seq.desc()).limit(1)).first()
    entry = seal(Head(newest[0], newest[1]) if newest else None, change, current_actor(),
                 at or datetime.now(UTC), conn.get_execution_options().get(KEY_OPTION))
    conn.execute(trail.insert(), entry.row())
    return entry


def run_license(conn: Any, run_id: str) -> str | None:
    """Return the license number of an audit run, read in conn's transaction."""
    return conn.scalar(select(licenses.c.number)
                       .join(audit_runs, audit_runs.c.license_id == licenses.c.id)
                       .where(audit_runs.c.id == run_id))


class SqlTrail:
    """Reads the trail, and records changes that have no transaction of their own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, change: Change) -> Entry:
        """Record a change that writes nothing else (a denied request) in its own transaction."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            return record(conn, change)

    def rows(self, after: int = 0, limit: int | None = None) -> Iterator[Mapping[str, Any]]:
        """Yield stored rows in seq order, undecoded (bytes on SQLite), after seq `after`."""
        # Text read as bytes on SQLite: a damaged row must reach verify, not crash the read.
        columns = [trail.c.seq] + [
            cast(trail.c[name], LargeBinary).label(name)
            if self.engine.dialect.name == "sqlite" else trail.c[name] for name in STORED[1:]]
        query = select(*columns).where(trail.c.seq > after).order_by(trail.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield dict(row._mapping)

    def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Return decoded entries after seq `after` (ValueError on a damaged row)."""
        return [decode(row) for row in self.rows(after, limit)]

    def head(self) -> Head | None:
        """Return the newest entry's seq and hash, or None for an empty trail."""
        with self.engine.connect() as conn:
            newest = conn.execute(select(trail.c.seq, trail.c.hash)
                                  .order_by(trail.c.seq.desc()).limit(1)).first()
        return Head(newest.seq, newest.hash) if newest else None
