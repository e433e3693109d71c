"""Create database engines with the durability settings every connection must carry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from auditor.domain.rules import Deadline

# Committed transactions must survive a crash: WAL with synchronous=FULL on SQLite.
# recursive_triggers makes INSERT OR REPLACE fire the append-only delete guards.
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "synchronous": "FULL",
    "foreign_keys": "ON",
    "recursive_triggers": "ON",
    "busy_timeout": "30000",
    "cache_size": "-65536",  # 64 MiB: index inserts stay in memory as the store grows
}
UNIX_EPOCH_JULIAN_DAY = 2440587.5  # SQLite compares times as Julian days
WRITE = {"auditor_write": True}  # execution option: take SQLite's write lock at BEGIN
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def sqlite_local_date(stored: str | None, zone: str) -> str | None:
    """Return the local calendar date of a stored UTC time: SQLite knows no time zones."""
    if stored is None:
        return None
    # Audits call this once per event; most UTC hours fall on one local date, so the
    # answer is cached per hour and only an hour that straddles a change is worked out.
    whole_hour = _hour_local_date(stored[:13], zone)
    if whole_hour is not None:
        return whole_hour
    utc = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return utc.astimezone(ZoneInfo(zone)).date().isoformat()


@lru_cache(maxsize=1 << 16)
def _hour_local_date(hour: str, zone: str) -> str | None:
    """Return the local date of every instant of a UTC hour, or None if it has two."""
    try:
        first = datetime.fromisoformat(f"{hour}:00").replace(tzinfo=UTC)
    except ValueError:
        return None
    last = first + timedelta(hours=1) - timedelta(microseconds=1)
    start, end = first.astimezone(ZoneInfo(zone)), last.astimezone(ZoneInfo(zone))
    same = start.date() == end.date() and start.utcoffset() == end.utcoffset()
    return start.date().isoformat() if same else None


def sqlite_local_deadline(stored: str | None, zone: str, days: int, clock: str) -> float | None:
    """Return, as a Julian day, `clock` local time `days` local days after a stored UTC time."""
    if stored is None:
        return None
    utc = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    due = Deadline(timedelta(days=days), time.fromisoformat(clock)).due(utc, ZoneInfo(zone))
    return due.timestamp() / 86400 + UNIX_EPOCH_JULIAN_DAY


def normalise_url(url: str) -> str:
    """Return url with the driver this project uses (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 5) -> Engine:
    """Return an engine for url (SQLite or PostgreSQL) with pragmas and write locking set up.

    pool_size connections stay open once made; up to 10 more are made when more are in
    use at once, and each is closed when given back. A serving process with more
    threads than its pool kept opening and closing PostgreSQL connections (38 in 834
    requests of a benchmark run, each a PostgreSQL backend started and a login).
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, pool_size)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or "
                         "postgresql URLs")
    options = "-c synchronous_commit=on -c timezone=UTC"
    if schema:
        options += f" -c search_path={schema}"
    # psycopg prepares a statement after five runs; a generic plan made while the
    # events table was small keeps seq-scanning it as it grows. Plan every time.
    return create_engine(url, connect_args={"options": options, "prepare_threshold": None},
                         pool_pre_ping=True, pool_size=pool_size)


def open_pool(engine: Engine, connections: int) -> None:
    """Open that many of the engine's pooled connections now, and leave them in its pool."""
    opened = [engine.connect() for _ in range(connections)]
    for conn in opened:
        conn.close()


def single_statements(engine: Engine, *, write: bool = False) -> Engine:
    """Return the engine for work that is one statement per connection use (a read, an insert).

    On PostgreSQL such work runs in autocommit: a statement is atomic on its own, and a
    transaction around it costs two more round trips to the server (BEGIN, then COMMIT
    or ROLLBACK), each of which the serving thread must also win the GIL back after.
    A findings page made 12 round trips (3 statements, each with a ping, BEGIN and
    ROLLBACK); in autocommit, with its statuses joined into the page's query, it makes 4.
    SQLite has no round trips; it keeps its transactions (writers take the write lock
    at BEGIN).
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(**AUTOCOMMIT)
    return engine.execution_options(**WRITE) if write else engine


# Advisory locks belong to the whole database; the key hashes in the store's schema.
_SCHEMA_LOCK_SQL = ("SELECT pg_advisory_xact_lock(hashtextextended("
                    "coalesce(current_schema(), '') || {}, 0))")
_SCHEMA_LOCK = text(_SCHEMA_LOCK_SQL.format(":name"))


def lock_in_schema(conn: Any, name: str, key: int = 0) -> None:
    """Wait for a PostgreSQL advisory lock held until the transaction ends, of this store only.

    PostgreSQL's advisory locks are the database's, not a schema's: with fixed keys, the
    stores of two schemas in one database (each test session and benchmark on a shared
    server, or two stores side by side) queued on each other's locks, and an import here
    waited 2 s on the license lock of another schema's import. The key is a hash of the
    schema's name, the lock's name and its key (license id), so each store serialises
    only its own writers. coalesce: a NULL key would take no lock at all.
    """
    conn.execute(_SCHEMA_LOCK, {"name": f":{name}:{key}"})


def lock_then_read(conn: Any, name: str, key: int, sql: str,
                   params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Take lock_in_schema's lock, then run one read (DBAPI sql); both in one round trip.

    A writer holding a lock waits for nothing else, so each round trip it makes while
    holding one (a thread giving up the GIL and winning it back, on a busy process) is
    time every other writer of the lock queues. psycopg's pipeline sends the lock and
    the read together; the read is a statement of its own after the lock's, so it sees
    what the lock's previous holder committed (one statement would read a snapshot
    taken before its wait for the lock). PostgreSQL only.
    """
    raw = conn.connection.dbapi_connection
    with raw.pipeline():
        raw.cursor().execute(_SCHEMA_LOCK_SQL.format("%s"), (f":{name}:{key}",))
        cursor = raw.cursor()
        cursor.execute(sql, params)
    return list(cursor.fetchall())


def _sqlite_engine(url: str, database: str | None, pool_size: int) -> Engine:
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=pool_size)
    else:  # an in-memory database is one connection's (SingletonThreadPool): no pool size
        engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to SQLAlchemy's begin event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for name, value in SQLITE_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name}={value}")
        cursor.close()
        dbapi_connection.create_function("auditor_local_date", 2, sqlite_local_date,
                                         deterministic=True)
        dbapi_connection.create_function("auditor_local_deadline", 4, sqlite_local_deadline,
                                         deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the lock up front, so two writers queue instead of deadlocking.
        write = connection.get_execution_options().get("auditor_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
