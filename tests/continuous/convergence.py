"""Helpers of the convergence tests: a generated store's files, arrival orders, verdicts.

A generated store's files arrive in some order (whole files of one source, or one
day's file at a time); the worker runs now and then, and is killed now and then; what
it leaves standing is compared with what the batch compilers find on the same data.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.findings import explain
from auditor.domain.license import License
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import sample_license
from auditor.services.ingest import ingest
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.schema import continuous_findings, events

REFERENCE_TYPES = ("adjust_reason",)


@dataclass
class Arrival:
    """A generated store, its database, and the files still to arrive."""

    folder: Path
    settings: Settings
    store: Any
    license: License
    bounds: tuple[datetime, datetime]
    entries: list[dict[str, str]]

    @property
    def license_id(self) -> int:
        """Return the license's id in the database."""
        return ContinuousStore(self.store.engine).license_ids(
            [self.license.number])[self.license.number]

    def rules(self) -> list[Any]:
        """Return the rules of the license's pack that apply to its state."""
        pack = load_pack(default_rules_dir(), self.license.state)
        return [r for r in pack.rules if r.applies_to(self.license.state)]

    def arrive(self, entries: list[dict[str, str]]) -> None:
        """Import these files, in this order."""
        for entry in entries:
            ingest(self.store, self.license.number, entry["format"], entry["path"],
                   (self.folder / entry["path"]).read_bytes())

    def env(self) -> dict[str, str]:
        """Return the environment a worker child needs to open this database."""
        env = os.environ.copy()
        env["AUDITOR_DATABASE_URL"] = self.settings.database_url
        if self.settings.database_schema:
            env["AUDITOR_DATABASE_SCHEMA"] = self.settings.database_schema
        return env


def generated(settings: Settings, folder: Path, days: int, receipts: int, seed: int,
              plant: bool = True) -> Arrival:
    """Generate a store and an empty database holding its license."""
    generate_store(folder, StoreSpec(days=days, receipts_per_day=receipts, seed=seed,
                                     plant=plant))
    store = open_store(settings, migrate=True)
    license = sample_license(folder)
    store.add_license(license)
    spec = json.loads((folder / "ground-truth.json").read_text())["spec"]
    start = date.fromisoformat(spec["start"])
    bounds = local_bounds(license, start, start + timedelta(days=days))
    entries = json.loads((folder / "files.json").read_text())
    return Arrival(folder, settings, store, license, bounds, entries)


def arrival_order(entries: list[dict[str, str]], rng: random.Random,
                  whole_files: bool) -> list[list[dict[str, str]]]:
    """Return the files in a random order: per day, or one source's days together."""
    if whole_files:
        by_format: dict[str, list[dict[str, str]]] = {}
        for entry in entries:
            by_format.setdefault(entry["format"], []).append(entry)
        units = list(by_format.values())
    else:
        units = [[entry] for entry in entries]
    rng.shuffle(units)
    return units


def run_worker(arrival: Arrival, kill_after: float | None = None,
               until: datetime | None = None) -> bool:
    """Run `auditor worker --once` in a child; kill -9 it after kill_after seconds if
    given. Return whether it finished."""
    command = [sys.executable, "-m", "auditor", "worker", "--no-supervise", "--once",
               "--license", arrival.license.number, "--batch", "300"]
    if until is not None:
        command += ["--until", until.strftime("%Y-%m-%dT%H:%M:%S%z")]
    child = subprocess.Popen(command, env=arrival.env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.communicate()
            return False
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err.decode()[-2000:]
    return True


def standing(arrival: Arrival) -> list[str]:
    """Return the identities of the worker's standing findings (open or remedied late)."""
    return sorted(r["identity"] for r in ContinuousStore(arrival.store.engine).findings(
        arrival.license_id) if r["status"] != "withdrawn")


def batch_findings(arrival: Arrival, start: datetime, end: datetime) -> list[str]:
    """Return the identities the batch compilers find for triggers in [start, end)."""
    zone = arrival.license.zone()
    return sorted(explain(rule, v, zone).identity for rule in arrival.rules()
                  for v in arrival.store.evaluate(arrival.license.number, rule, start,
                                                  end).violations)


def clock(arrival: Arrival) -> datetime | None:
    """Return the latest activity stored (reference lists excluded)."""
    with arrival.store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.max(events.c.occurred_at)).where(
            events.c.type.not_in(REFERENCE_TYPES)))


def assert_supported(arrival: Arrival) -> None:
    """Every standing finding is one the data stored so far supports (the batch finds it)."""
    now = clock(arrival)
    if now is None:
        assert standing(arrival) == []
        return
    supported = set(batch_findings(arrival, datetime(2000, 1, 1, tzinfo=now.tzinfo),
                                   now + timedelta(microseconds=1)))
    unsupported = set(standing(arrival)) - supported
    assert not unsupported, f"{len(unsupported)} standing findings the data refutes"


def assert_no_duplicates(arrival: Arrival) -> None:
    """Each finding's identity is written once."""
    with arrival.store.engine.connect() as conn:
        rows = conn.execute(sa.select(continuous_findings.c.identity)).scalars().all()
    assert len(rows) == len(set(rows))
