"""The worker beside a live import of the demo store: its findings are the batch audit's.

The demo's store (seed 1, from 1 January 2026, fewer days to stay quick) is imported
file by file, day after day, while `auditor worker` runs in its own process. Once the
worker has read every event, the day is closed (`--once --until` the cut-off moves the
event-time clock) and its findings are compared with the batch audit over the same
events and cut-off.
"""

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import sample_license
from auditor.services.ingest import ingest
from auditor.services.worker import Worker
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.schema import events, worker_checkpoints
from tests.continuous.test_sample_store import (
    batch_identities,
    open_identities,
    store_license_id,
)

DAYS = 8
DEMO_START = date(2026, 1, 1)  # `auditor demo`'s store: seed 1, from this day
SOURCE_LAG = 2 * 86400  # a day's files arrive over the next day: allowed lateness


def worker_command(license_number, *extra):
    return [sys.executable, "-m", "auditor", "worker", "--no-supervise", "--license",
            license_number, "--lateness", str(SOURCE_LAG), "--batch", "500", *extra]


def read_up_to(store, last_id, child, timeout=120.0):
    """Wait until the worker's checkpoint reaches event last_id (or it dies)."""
    deadline = time.monotonic() + timeout
    with store.engine.connect() as conn:
        while time.monotonic() < deadline and child.poll() is None:
            done = conn.scalar(sa.select(worker_checkpoints.c.last_event_id))
            conn.rollback()
            if done == last_id:
                return
            time.sleep(0.05)
    raise AssertionError(f"the worker did not reach event {last_id}: exit {child.poll()}")


@pytest.mark.slow
def test_the_worker_beside_a_live_import_finds_what_the_batch_audit_finds(
        tmp_path, monkeypatch):
    db, folder = tmp_path / "auditor.db", tmp_path / "store"
    generate_store(folder, StoreSpec(days=DAYS, receipts_per_day=30, seed=1,
                                     start=DEMO_START))
    store = open_store(Settings(database_url=f"sqlite:///{db}"), migrate=True)
    license = sample_license(folder)
    store.add_license(license)
    monkeypatch.setenv("AUDITOR_DATABASE_URL", f"sqlite:///{db}")
    child = subprocess.Popen(worker_command(license.number), stderr=subprocess.DEVNULL,
                             env=os.environ.copy())
    try:
        for entry in json.loads((folder / "files.json").read_text()):
            ingest(store, license.number, entry["format"], entry["path"],
                   (folder / entry["path"]).read_bytes())
        with store.engine.connect() as conn:
            last_id = conn.scalar(sa.select(sa.func.max(events.c.id)))
        read_up_to(store, last_id, child)
    finally:
        child.terminate()
        child.wait(timeout=30)
    license_id = store_license_id(store, license)
    live = set(open_identities(store, license_id))
    assert live, "findings appeared while the import was running"

    bounds = local_bounds(license, DEMO_START, DEMO_START + timedelta(days=DAYS))
    close_day = worker_command(license.number, "--once", "--until",
                               bounds[1].strftime("%Y-%m-%dT%H:%M:%S%z"))
    assert subprocess.run(close_day, check=False, stderr=subprocess.DEVNULL).returncode == 0
    pack = load_pack(default_rules_dir(), license.state)
    running = [p.rule for p in Worker(ContinuousStore(store.engine), [license],
                                      lambda _: pack).evaluators[license_id].programs]
    after = open_identities(store, license_id)
    assert after == batch_identities(store, license, running, bounds)
    assert live <= set(after)
    store.engine.dispose()
