"""kill -9 a 100k-event import twenty times at random points, then resume it.

An event is acknowledged once its batch has committed, which the test sees the way any
other client would: through a separate connection. Each run is killed at a random
moment after it has committed new batches; just before the kill the test counts the
events committed up to the highest id it sees. After the kill every one of those must
still be there, no batch may be half-written, and SQLite's
`PRAGMA integrity_check` must say ok. Re-running the import then completes the file
with no event stored twice.
"""

import os
import random
import signal
import time

import pytest
import sqlalchemy as sa

from auditor.store.schema import events
from tests.integration import test_kill_during_import as single_kill

ROWS = 100_000
CHUNK = 500
KILLS = 20


def highest_id(store):
    """Return the highest event id a separate reader sees committed (0 when none)."""
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.max(events.c.id))) or 0


def count_upto(store, highest):
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).where(events.c.id <= highest))


def stored(store):
    return count_upto(store, highest_id(store))


def kill_while_writing(process, store, delay):
    """Kill process -9 delay seconds after its first new batch committed.

    Return (count, highest id) of the events acknowledged just before the kill, and
    whether it was killed (a fast import can finish first).
    """
    before = highest_id(store)
    deadline = time.monotonic() + 120
    while highest_id(store) == before:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the import made no progress"
        time.sleep(0.01)
    time.sleep(delay)
    highest = highest_id(store)
    acknowledged = count_upto(store, highest)
    if process.poll() is not None:  # it finished first: nothing left to kill it in
        process.communicate()
        return acknowledged, highest, False
    process.send_signal(signal.SIGKILL)
    process.communicate()  # reap it and close its pipes
    return acknowledged, highest, True


def integrity_ok(store):
    if store.engine.dialect.name != "sqlite":
        return None
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


@pytest.mark.reliability
@pytest.mark.slow
def test_twenty_kills_during_a_100k_import_lose_and_duplicate_nothing(
        sql_settings, sql_store, tmp_path, monkeypatch, figure):
    monkeypatch.setattr(single_kill, "ROWS", ROWS)
    path = single_kill.pos_file(tmp_path / "pos.csv")
    env = {**os.environ, "AUDITOR_IMPORT_CHUNK": str(CHUNK),
           "AUDITOR_DATABASE_URL": sql_settings.database_url,
           "AUDITOR_DATABASE_SCHEMA": sql_settings.database_schema or ""}
    rng = random.Random(20)
    lost = half_written = checks_ok = kills = 0
    while kills < KILLS and stored(sql_store) < ROWS:
        # A resumed run re-reads what is stored, then writes new batches: kill it there.
        # Short delays: at 30,000 rows/s, 0.25 s would store the file before 20 kills.
        process = single_kill.run_ingest(env, path)
        acknowledged, highest, killed = kill_while_writing(process, sql_store,
                                                           rng.uniform(0, 0.1))
        if not killed:
            break
        kills += 1
        lost += acknowledged - count_upto(sql_store, highest)
        half_written += stored(sql_store) % CHUNK != 0
        checks_ok += bool(integrity_ok(sql_store))
    finished = single_kill.run_ingest(env, path)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    with sql_store.engine.connect() as conn:
        total, distinct = conn.execute(sa.select(
            sa.func.count(), sa.func.count(sa.distinct(events.c.natural_key)))).one()
    duplicated = total - distinct
    database = sql_store.engine.dialect.name
    figure("crash-import: acknowledged events lost", lost, of=ROWS, database=database,
           kills=KILLS)
    figure("crash-import: events duplicated", duplicated, of=ROWS, database=database)
    figure("crash-import: events stored after resume", total, of=ROWS, database=database)
    if database == "sqlite":
        figure("crash-import: integrity check ok", checks_ok, of=kills, database=database)
        assert checks_ok == kills
    assert kills >= KILLS // 2, f"only {kills} kills landed before the import finished"
    assert (lost, half_written, duplicated) == (0, 0, 0)
    assert total == ROWS
