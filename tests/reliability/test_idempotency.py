"""Importing again never duplicates: repeated imports, concurrent uploads, concurrent processes.

Events carry natural keys, so a file imported a second and third time adds no row and
leaves the readiness audit's findings as they were. Uploads racing each other over the
API (with one Idempotency-Key, or none) and `auditor ingest` processes racing on one
file store each record once, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store, sample_license
from auditor.services.ingest import IngestJob, ingest_files
from auditor.store.schema import events, idempotency_keys
from tests.api.conftest import POS_HEADER, auth
from tests.conftest import LICENSE
from tests.integration import test_kill_during_import as single_kill

DAYS = 7
RACERS = 4
RACE_ROWS = 2000


def audit_findings(store, license, start):
    """Return the readiness audit's findings over the sample period, comparable as a list."""
    report = run_audit(store, load_pack(default_rules_dir(), license.state), license.number,
                       start, start + timedelta(days=DAYS - 1))
    return sorted(json.dumps(f, sort_keys=True) for f in report.as_json()["findings"])


def event_count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(events)) or 0


@pytest.mark.reliability
@pytest.mark.slow
def test_the_same_files_imported_three_times_add_nothing_and_change_no_finding(
        sql_settings, tmp_path, figure):
    folder = tmp_path / "store"
    truth = generate_store(folder, StoreSpec(days=DAYS, receipts_per_day=20, seed=3))
    store = open_store(sql_settings, migrate=True)
    first = load_sample_store(store, folder)
    license = sample_license(folder)
    start = date.fromisoformat(truth["spec"]["start"])
    stored, findings = event_count(store.engine), audit_findings(store, license, start)
    assert findings, "the sample store plants violations"
    jobs = [IngestJob(license.number, e["format"], e["path"], path=folder / e["path"])
            for e in json.loads((folder / "files.json").read_text())]
    repeats = [r for _ in range(2) for r in ingest_files(store, jobs)]
    added = sum(r.events_added for r in repeats)  # type: ignore[union-attr]
    accepted = sum(r.accepted for r in repeats)  # type: ignore[union-attr]
    records = 2 * sum(r.rows_read for r in first)
    changed = len(set(findings) ^ set(audit_findings(store, license, start)))
    database = store.engine.dialect.name
    figure("idempotency: rows added by two repeated imports", added, of=records,
           database=database)
    figure("idempotency: findings changed by the repeats", changed, of=len(findings),
           database=database)
    assert (added, accepted, changed) == (0, 0, 0)
    assert event_count(store.engine) == stored
    store.engine.dispose()


def race_file() -> bytes:
    return (POS_HEADER + "".join(
        f"RACE{i},1,2026-01-05T10:00:00-08:00,1A4FF0100000022000000123,SKU1,Gummies,"
        f"Edible,1,Each,10.00,10.00,Consumer,C1,ann,false\n" for i in range(RACE_ROWS))).encode()


def race(app, key: str | None, data: bytes) -> list:
    """Post the same upload from RACERS threads at once; return their responses."""
    secret = app.config["TEST_SECRETS"]["associate"]
    headers = auth(secret, **({"Idempotency-Key": key} if key else {}))
    start = threading.Barrier(RACERS)
    answers: list = []

    def post() -> None:
        client = app.test_client()
        start.wait()
        answers.append(client.post(f"/licenses/{LICENSE.number}/imports?format=pos-sales",
                                   headers=headers,
                                   data={"file": (io.BytesIO(data), "race.csv")}))

    threads = [threading.Thread(target=post) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.reliability
@pytest.mark.slow
def test_concurrent_uploads_of_one_file_store_it_once(sql_app, figure):
    data = race_file()
    keyed, unkeyed = race(sql_app, "race-key", data), race(sql_app, None, data)
    engine = sql_app.extensions["auditor"]["store"].engine
    stored = event_count(engine)
    statuses = sorted(r.status_code for r in keyed + unkeyed)
    with engine.connect() as conn:
        keys = conn.scalar(sa.select(sa.func.count()).select_from(idempotency_keys)) or 0
    database = engine.dialect.name
    figure("idempotency: rows added by concurrent duplicate uploads", stored - RACE_ROWS,
           of=RACE_ROWS * (2 * RACERS - 1), database=database, uploads=2 * RACERS)
    assert statuses == [201] * (2 * RACERS), [r.get_json() for r in keyed + unkeyed]
    assert stored == RACE_ROWS
    assert len({r.json["import_id"] for r in keyed}) == 1  # one answer, replayed to all
    assert keys == 1


@pytest.mark.reliability
@pytest.mark.slow
def test_concurrent_ingest_processes_on_one_file_store_it_once(
        sql_settings, sql_store, tmp_path, monkeypatch, figure):
    monkeypatch.setattr(single_kill, "ROWS", 5000)
    path = single_kill.pos_file(tmp_path / "pos.csv")
    env = {**os.environ, "AUDITOR_IMPORT_CHUNK": "500",
           "AUDITOR_DATABASE_URL": sql_settings.database_url,
           "AUDITOR_DATABASE_SCHEMA": sql_settings.database_schema or ""}
    processes = [single_kill.run_ingest(env, path) for _ in range(3)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in processes]
    stored = event_count(sql_store.engine)
    figure("idempotency: rows added by concurrent duplicate ingest processes", stored - 5000,
           of=2 * 5000, database=sql_store.engine.dialect.name, processes=3)
    assert [code for _, _, code in results] == [0, 0, 0], [err for _, err, _ in results]
    assert stored == 5000
