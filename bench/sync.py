"""Benchmark: pull a sample store from the local METRC simulator with `sync_license`.

    .venv/bin/python bench/sync.py [--days 30] [--receipts-per-day 120] [--rate 50]
        [--backends sqlite,postgres] [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Per backend: a fresh database, the simulator on a loopback port (no injected faults),
one full sync over the store's days at --rate GET/s (METRC allows 50 per facility), then
a second sync that must add nothing. Prints requests, rows pulled, events stored,
wall time and events/s for each, and checks the stored counts against the ground truth.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.cli_sync import PULLED_TYPES
from auditor.config import Settings
from auditor.connectors.metrc_http import MetrcHttp
from auditor.sample import StoreSpec, generate_store
from auditor.sample.metrc_simulator import Faults, MetrcData, SimulatorServer, create_simulator
from auditor.services.demo import sample_license
from auditor.services.sync import sync_license
from auditor.services.sync_ports import MetrcKeys
from auditor.store.sync_sql import SqlSyncState

KEYS = MetrcKeys("bench-vendor", "bench-user")


def settings_for(backend: str, work: Path, pg_url: str) -> Settings:
    """Return settings for a fresh database of the backend."""
    if backend == "sqlite":
        return Settings(database_url=f"sqlite:///{work / 'sync.db'}")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    return Settings(database_url=pg_url, database_schema=schema)


def run(backend: str, store_dir: Path, days: int, rate: float, work: Path, pg_url: str,
        truth: dict) -> None:
    """Sync the store twice into a fresh database and print the figures."""
    store_settings = settings_for(backend, work, pg_url)
    store = open_store(store_settings, migrate=True)
    license = sample_license(store_dir)
    store.add_license(license)
    faults = Faults()
    app = create_simulator(MetrcData.from_store(store_dir), KEYS.vendor_key, KEYS.user_key,
                           faults)
    since = datetime(2026, 1, 1, tzinfo=license.zone()) - timedelta(days=1)
    until = since + timedelta(days=days + 2)
    with SimulatorServer(app) as server:
        for name in ("full sync", "second sync"):
            served = faults.served
            source = MetrcHttp(server.url, KEYS, license.number, rate=rate)
            started = time.perf_counter()
            result = sync_license(store, SqlSyncState(store.engine), source, license.number,
                                  since=since, until=until)
            elapsed = time.perf_counter() - started
            source.close()
            pulled = sum(r.pulled for r in result.runs)
            added = sum(r.accepted for r in result.runs)
            print(f"{backend:8} {name:11} requests {faults.served - served:5}  rows pulled "
                  f"{pulled:6}  records added {added:6}  {elapsed:6.1f} s  "
                  f"{pulled / elapsed:7.0f} rows/s  ok={result.ok}")
    counts = store.event_counts(license.number)
    wrong = [t for t in PULLED_TYPES if counts.get(t, 0) != truth["event_counts"].get(t, 0)]
    print(f"{backend:8} stored {sum(counts.get(t, 0) for t in PULLED_TYPES)} METRC events; "
          f"{'all match the ground truth' if not wrong else f'MISMATCH in {wrong}'}")
    store.engine.dispose()
    if backend == "postgres":
        drop_schema(pg_url, store_settings.database_schema)


def drop_schema(pg_url: str, schema: str | None) -> None:
    """Drop the benchmark's PostgreSQL schema."""
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


def main() -> None:
    """Parse the arguments and run the benchmark per backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--receipts-per-day", type=int, default=120)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        spec = StoreSpec(days=args.days, receipts_per_day=args.receipts_per_day, seed=1,
                         start=date(2026, 1, 1))
        truth = generate_store(work / "store", spec)
        for backend in args.backends.split(","):
            run(backend, work / "store", args.days, args.rate, work, args.postgres_url, truth)


if __name__ == "__main__":
    main()
