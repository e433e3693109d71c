"""Bulk ingest commits small files in groups: fewer commits, each import still whole.

On SQLite and PostgreSQL: small files share a transaction, a large file's chunks are
committed one by one, an error rolls back only the open group, and a process killed
-9 while loading many files leaves whole imports only; loading again completes them.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.importers.store_csv import MOVES
from auditor.sample import StoreSpec, generate_store
from auditor.services.demo import sample_license
from auditor.services.ingest import IngestJob, ingest_files
from auditor.store import ingest_session
from auditor.store.schema import events, imports
from tests.conftest import LICENSE


def moves(day: int, count: int) -> bytes:
    rows = [f"2026-01-{day:02d}T10:{n % 60:02d}:{n // 60:02d}-08:00,1A4{day:05d}{n:016d},"
            "Vault,Floor,1,Each,ana" for n in range(count)]
    return ("\n".join([",".join(MOVES), *rows]) + "\n").encode()


def jobs(days: range, rows: int) -> list[IngestJob]:
    return [IngestJob(LICENSE.number, "moves", f"moves-{day}.csv", data=moves(day, rows))
            for day in days]


def count_commits(engine) -> list[int]:
    commits = [0]

    @sa.event.listens_for(engine, "commit")
    def counted(conn) -> None:
        commits[0] += 1

    return commits


def stored(engine) -> tuple[int, list[str]]:
    with engine.connect() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(events))
        statuses = list(conn.scalars(sa.select(imports.c.status).order_by(imports.c.id)))
    return count, statuses


def test_small_files_share_one_commit(sql_store):
    commits = count_commits(sql_store.engine)
    results = ingest_files(sql_store, jobs(range(1, 6), 50))
    assert [r.accepted for r in results] == [50] * 5
    assert commits[0] == 1
    assert stored(sql_store.engine) == (250, ["completed"] * 5)


def test_a_group_is_committed_when_it_is_full(sql_store, monkeypatch):
    monkeypatch.setattr(ingest_session, "GROUP_RECORDS", 100)
    commits = count_commits(sql_store.engine)
    ingest_files(sql_store, jobs(range(1, 6), 50))
    assert commits[0] == 3  # files 1-2, 3-4, then 5 when the session ends


def test_a_large_file_commits_each_chunk_as_before(sql_store):
    commits = count_commits(sql_store.engine)
    (result,) = ingest_files(sql_store, jobs(range(1, 2), 50), chunk_size=20)
    assert (result.accepted, commits[0]) == (50, 3)


def test_an_error_rolls_back_only_the_open_group_and_loading_again_completes(
        sql_store, monkeypatch):
    monkeypatch.setattr(ingest_session, "GROUP_RECORDS", 100)

    def fail_at_third(done: int) -> None:
        if done == 3:
            raise RuntimeError("the process stops here")

    with pytest.raises(RuntimeError):
        ingest_files(sql_store, jobs(range(1, 6), 50), on_file=fail_at_third)
    assert stored(sql_store.engine) == (100, ["completed"] * 2)  # file 3 rolled back whole
    again = ingest_files(sql_store, jobs(range(1, 6), 50))
    assert [(r.accepted, r.duplicates) for r in again] == [(0, 50)] * 2 + [(50, 0)] * 3
    assert stored(sql_store.engine)[0] == 250


LOADER = """
import json, sys
from pathlib import Path
from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.services.ingest import IngestJob, ingest_files
from auditor.store import ingest_session
folder, number = Path(sys.argv[1]), sys.argv[2]
ingest_session.GROUP_RECORDS = 500  # many commits in a small store, so kills fall between
store = open_store(Settings.from_env())
entries = json.loads((folder / "files.json").read_text())
ingest_files(store, [IngestJob(number, e["format"], e["path"], path=folder / e["path"])
                     for e in entries])
"""


def imports_whole(engine) -> bool:
    """Say whether every import is completed and holds exactly the events it counted."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(imports.c.status, imports.c.events_added,
                      sa.select(sa.func.count()).where(events.c.import_id == imports.c.id)
                      .scalar_subquery())).all()
    return all(status == "completed" and added == held for status, added, held in rows)


@pytest.mark.reliability
@pytest.mark.slow
def test_kill_while_loading_many_files_leaves_whole_imports(sql_settings, tmp_path):
    folder = tmp_path / "store"
    truth = generate_store(folder, StoreSpec(days=20, receipts_per_day=60, seed=5))
    store = open_store(sql_settings, migrate=True)
    license = sample_license(folder)
    store.add_license(license)
    env = {**os.environ, "AUDITOR_DATABASE_URL": sql_settings.database_url,
           "AUDITOR_DATABASE_SCHEMA": sql_settings.database_schema or ""}
    rng = random.Random(11)
    total, cut_short = sum(truth["event_counts"].values()), 0
    for _ in range(3):
        before = stored(store.engine)[0]
        process = subprocess.Popen([sys.executable, "-c", LOADER, str(folder), license.number],
                                   env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while stored(store.engine)[0] == before and process.poll() is None:
            assert time.monotonic() < deadline, "the load made no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert imports_whole(store.engine)
        cut_short += stored(store.engine)[0] < total
    assert cut_short, "no kill fell inside the load: the test proved nothing"
    entries = json.loads((folder / "files.json").read_text())
    results = ingest_files(store, [IngestJob(license.number, e["format"], e["path"],
                                             path=Path(folder / e["path"])) for e in entries])
    assert all(not isinstance(r, Exception) and r.balanced() for r in results)
    assert imports_whole(store.engine)
    expected = {kind: count for kind, count in truth["event_counts"].items() if count}
    assert store.event_counts(license.number) == expected
    with store.engine.connect() as conn:
        total, distinct = conn.execute(sa.select(
            sa.func.count(), sa.func.count(sa.distinct(events.c.natural_key)))).one()
    assert total == distinct
    store.engine.dispose()
