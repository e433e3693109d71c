"""A generated store with planted violations: continuous findings equal the batch audit's,
and killing the worker (kill -9) mid-stream loses and duplicates nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.findings import explain
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import load_sample_store
from auditor.services.ingest import ingest
from auditor.services.supervise import supervise
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.schema import continuous_findings, worker_checkpoints

DAYS = 10


def loaded(settings, folder):
    truth = generate_store(folder, StoreSpec(days=DAYS, receipts_per_day=30, seed=5))
    store = open_store(settings, migrate=True)
    load_sample_store(store, folder)
    license = store.get_license(truth["spec"]["license_number"])
    start = date.fromisoformat(truth["spec"]["start"])
    return store, license, local_bounds(license, start, start + timedelta(days=DAYS))


def batch_identities(store, license, rules, bounds):
    return sorted(explain(rule, v, license.zone()).identity for rule in rules
                  for v in store.evaluate(license.number, rule, *bounds).violations)


def open_identities(store, license_id):
    """Return the findings that stand (open, or remedied late): the batch reports both."""
    return sorted(r["identity"] for r in ContinuousStore(store.engine).findings(license_id)
                  if r["status"] != "withdrawn")


def test_continuous_findings_equal_the_batch_audit_on_a_sample_store(sql_settings, tmp_path):
    store, license, bounds = loaded(sql_settings, tmp_path / "store")
    pack = load_pack(default_rules_dir(), license.state)
    worker = Worker(ContinuousStore(store.engine), [license], lambda _: pack, batch=2000)
    run_once(worker, until=bounds[1])
    evaluator = worker.evaluators[worker.ids[license.number]]
    running = [p.rule for p in evaluator.programs]
    assert evaluator.batch_only == {}, "every rule of the pack runs continuously"
    assert len(running) == len(pack.rules)
    expected = batch_identities(store, license, running, bounds)
    assert expected, "the sample store plants violations of the continuous rules"
    assert open_identities(store, worker.ids[license.number]) == expected
    # A backlog is settled from the store: nothing of it is held in the engine.
    assert worker.progress.events_processed > 0
    assert evaluator.engine.working_memory() == 0
    store.engine.dispose()


def ingest_days(store, folder, license, entries):
    for entry in entries:
        data = (folder / entry["path"]).read_bytes()
        ingest(store, license.number, entry["format"], entry["path"], data)


def test_a_worker_killed_mid_stream_loses_and_duplicates_no_finding(tmp_path, monkeypatch):
    db, folder = tmp_path / "auditor.db", tmp_path / "s"
    truth = generate_store(folder, StoreSpec(days=DAYS, receipts_per_day=30, seed=5))
    entries = json.loads((folder / "files.json").read_text())
    half = len(entries) // 2
    (folder / "files.json").write_text(json.dumps(entries[:half]))
    store = open_store(Settings(database_url=f"sqlite:///{db}"), migrate=True)
    load_sample_store(store, folder)
    license = store.get_license(truth["spec"]["license_number"])
    start = date.fromisoformat(truth["spec"]["start"])
    bounds = local_bounds(license, start, start + timedelta(days=DAYS))
    monkeypatch.setenv("AUDITOR_DATABASE_URL", f"sqlite:///{db}")
    command = [sys.executable, "-m", "auditor", "worker", "--no-supervise", "--once",
               "--license", license.number, "--batch", "200"]
    assert subprocess.run(command, check=False).returncode == 0
    before = set(open_identities(store, store_license_id(store, license)))
    assert before, "the first half of the stream already produced findings"
    ingest_days(store, folder, license, entries[half:])
    kills = []

    def kill_mid_stream(child: subprocess.Popen) -> None:
        if kills:
            return
        deadline = time.monotonic() + 60
        with store.engine.connect() as conn:
            while time.monotonic() < deadline and child.poll() is None:
                done = conn.scalar(sa.select(worker_checkpoints.c.events_processed))
                conn.rollback()
                if done and done >= 2000:
                    os.kill(child.pid, signal.SIGKILL)
                    kills.append(done)
                    return
                time.sleep(0.02)

    until = ["--until", bounds[1].strftime("%Y-%m-%dT%H:%M:%S%z")]
    record = supervise(command + until, max_restarts=3, backoff=0.1, on_start=kill_mid_stream)
    assert kills, "the worker was killed mid-stream"
    assert record.exits[0] == -signal.SIGKILL and record.exits[-1] == 0
    license_id = store_license_id(store, license)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(continuous_findings.c.identity)).scalars().all()
    assert len(rows) == len(set(rows))
    pack = load_pack(default_rules_dir(), license.state)
    clean = Worker(ContinuousStore(store.engine), [license], lambda _: pack)
    running = [p.rule for p in clean.evaluators[license_id].programs]
    after = open_identities(store, license_id)
    assert after == batch_identities(store, license, running, bounds)
    assert before <= set(after)
    store.engine.dispose()


def store_license_id(store, license):
    return ContinuousStore(store.engine).license_ids([license.number])[license.number]
