"""kill -9 the continuous-evaluation worker twenty times mid-stream, restarting it each time.

The test plays the supervisor: it starts `auditor worker --no-supervise --once` on a
generated store, kills it at a random moment within the time one clean run takes and
starts it again, until twenty kills have landed while it ran, then lets it finish. A
copy of the same database taken before any worker ran gets one uninterrupted run; the
two must end with the same continuous findings, none lost and none twice. Only the CLI
and the `continuous_findings` table are used, so the worker's internals may change.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import load_sample_store
from auditor.store.schema import continuous_findings, events, worker_checkpoints

KILLS = 20
DAYS = 12
FINDING_FIELDS = ("identity", "rule_id", "rule_version", "status", "occurred_at", "due_at",
                  "remedied_at", "package_label", "subject", "message")


def generated_database(folder):
    """Return (SQLite path, license number, --until cut-off) of a loaded sample store."""
    truth = generate_store(folder / "store", StoreSpec(days=DAYS, receipts_per_day=60,
                                                       seed=11))
    path = folder / "auditor.db"
    store = open_store(Settings(database_url=f"sqlite:///{path}"), migrate=True)
    load_sample_store(store, folder / "store")
    license = store.get_license(truth["spec"]["license_number"])
    start = date.fromisoformat(truth["spec"]["start"])
    until = local_bounds(license, start, start + timedelta(days=DAYS))[1]
    store.engine.dispose()
    return path, license.number, until.strftime("%Y-%m-%dT%H:%M:%S%z")


def start_worker(path, number, until):
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{path}"}
    env.pop("AUDITOR_DATABASE_SCHEMA", None)
    return subprocess.Popen(
        [sys.executable, "-m", "auditor", "worker", "--no-supervise", "--once",
         "--license", number, "--batch", "200", "--until", until],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_to_end(path, number, until):
    """Run the worker to completion; return how long it took."""
    started = time.monotonic()
    process = start_worker(path, number, until)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    return time.monotonic() - started


def dropped(path):
    """Return (events stored, stored events the worker's checkpoint has not processed)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        stored = conn.scalar(sa.select(sa.func.count()).select_from(events)) or 0
        processed = conn.scalar(sa.select(sa.func.sum(worker_checkpoints.c.events_processed)))
    engine.dispose()
    return stored, stored - (processed or 0)


def findings(path):
    """Return every continuous finding as a tuple of its identifying fields."""
    engine = sa.create_engine(f"sqlite:///{path}")
    columns = [continuous_findings.c[name] for name in FINDING_FIELDS]
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.select(*columns))]
    engine.dispose()
    return rows


@pytest.mark.reliability
@pytest.mark.slow
def test_twenty_kills_of_the_worker_lose_and_duplicate_no_finding(tmp_path, figure):
    path, number, until = generated_database(tmp_path)
    reference = tmp_path / "reference.db"
    shutil.copyfile(path, reference)
    clean_run = run_to_end(reference, number, until)
    expected = findings(reference)
    assert expected, "the sample store plants violations the worker finds"
    stored, left_out = dropped(reference)
    figure("engine: events dropped by the worker in one run", left_out, of=stored)
    assert left_out == 0

    rng = random.Random(20)
    killed_running = attempts = 0
    while killed_running < KILLS and attempts < 2 * KILLS:
        # A run that ends before its kill is not counted: it was not killed mid-stream.
        attempts += 1
        process = start_worker(path, number, until)
        time.sleep(rng.uniform(0.1, 0.85) * clean_run)
        killed_running += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.communicate()  # reap it and close its pipe
    run_to_end(path, number, until)
    got = findings(path)

    lost = len(set(expected) - set(got))
    duplicated = len(got) - len({row[0] for row in got})
    unexpected = len(set(got) - set(expected))
    figure("crash-worker: findings lost", lost, of=len(expected), kills=killed_running)
    figure("crash-worker: findings duplicated", duplicated, of=len(expected))
    figure("crash-worker: findings not in the uninterrupted run", unexpected,
           of=len(expected))
    assert killed_running == KILLS, "every kill counted landed while the worker ran"
    assert (lost, duplicated, unexpected) == (0, 0, 0)
    assert sorted(got) == sorted(expected)
