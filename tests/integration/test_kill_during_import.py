"""kill -9 an import mid-file: every committed batch is whole, and re-running completes it."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from auditor.importers.store_csv import POS_SALES
from auditor.store.schema import events, imports
from tests.conftest import LICENSE

ROWS = 30_000
CHUNK = 500


def pos_file(path):
    lines = [",".join(POS_SALES)]
    for i in range(ROWS):
        lines.append(f"R{i // 3},{i % 3},2026-01-05T14:02:00-08:00,1A4{i:021d},SKU,Gummies,"
                     f"Edibles,1,Each,20,20,Consumer,C{i % 97},ana,false")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_ingest(env, path):
    return subprocess.Popen(
        [sys.executable, "-m", "auditor", "ingest", "--license", LICENSE.number, "--format",
         "pos-sales", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def stored(store):
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(events))


def wait_for_first_batch(store, process, deadline=60):
    start = time.monotonic()
    while stored(store) == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() - start < deadline
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_during_import_loses_and_duplicates_nothing(sql_settings, sql_store, tmp_path):
    env = {**os.environ, "AUDITOR_IMPORT_CHUNK": str(CHUNK),
           "AUDITOR_DATABASE_URL": sql_settings.database_url,
           "AUDITOR_DATABASE_SCHEMA": sql_settings.database_schema or ""}
    path = pos_file(tmp_path / "pos.csv")
    rng = random.Random(7)
    for _ in range(3):
        process = run_ingest(env, path)
        wait_for_first_batch(store=sql_store, process=process)
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.communicate()  # reap it and close its pipes
        assert stored(sql_store) % CHUNK == 0  # no half-written batch
    if sql_store.engine.dialect.name == "sqlite":
        with sql_store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    before = stored(sql_store)
    finished = run_ingest(env, path)
    out, err = finished.communicate(timeout=120)
    assert finished.returncode == 0, err
    assert f"duplicates {before}," in out and f"accepted {ROWS - before}," in out
    assert stored(sql_store) == ROWS
    with sql_store.engine.connect() as conn:
        statuses = conn.execute(sa.select(imports.c.status)).scalars().all()
    assert statuses.count("completed") == 1  # the killed runs stay visibly unfinished
