"""Benchmark: a chain of stores audited by a pool of worker processes on PostgreSQL.

    .venv/bin/python bench/chain.py [--licenses 50] [--days 30] [--receipts-per-day 40]
        [--workers 1,2] [--postgres URL]

Generates one sample store per license (each its own seed and license number), ingests
them once into one PostgreSQL schema, then audits every license over its period with a
pool of N worker processes (licenses partitioned across the workers, one rule thread
each), for each N asked. Prints the wall time, licenses per minute and the speed-up.
This is the shape of the chain deployment the README describes; the job queue that will
feed real workers is not this benchmark's business: a process pool stands in for it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store

OUT = Path(__file__).parent / "out"
SCHEMA = "bench_chain"
START = date(2026, 1, 1)
_worker_store = None  # each worker process opens the store once


def license_number(index: int) -> str:
    """Return the license number of the chain's store number index."""
    return f"C10-{index:07d}-LIC"


def prepare(settings: Settings, licenses: int, days: int, receipts: int) -> None:
    """Generate and ingest the chain's stores once."""
    engine = sa.create_engine(settings.database_url.replace("postgresql://",
                                                            "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    engine.dispose()
    store = open_store(settings, migrate=True)
    have = {lic.number for lic in store.list_licenses()}
    began = time.perf_counter()
    for index in range(1, licenses + 1):
        if license_number(index) in have:
            continue
        folder = OUT / f"chain-{days}d-{receipts}r" / str(index)
        if not (folder / "ground-truth.json").exists():
            generate_store(folder, StoreSpec(days=days, receipts_per_day=receipts, seed=index,
                                             start=START, license_number=license_number(index)))
        load_sample_store(store, folder)
    store.refresh_statistics()
    print(f"chain ready ({licenses} licenses) in {time.perf_counter() - began:.0f} s",
          file=sys.stderr)


def _open(settings: Settings) -> None:
    global _worker_store
    _worker_store = open_store(settings)


def audit_one(number: str, days: int) -> tuple[str, int, float]:
    """Audit one license in this worker; return its findings and time."""
    assert _worker_store is not None
    license = _worker_store.get_license(number)
    began = time.perf_counter()
    report = run_audit(_worker_store, load_pack(default_rules_dir(), license.state), number,
                       START, START + timedelta(days=days - 1), threads=1)
    return number, len(report.findings), time.perf_counter() - began


def main() -> None:
    """Parse arguments, prepare the chain, audit it with each pool size and print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--licenses", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--receipts-per-day", type=int, default=40)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    settings = Settings(database_url=args.postgres, database_schema=SCHEMA)
    prepare(settings, args.licenses, args.days, args.receipts_per_day)
    if args.prepare_only:
        return
    numbers = [license_number(i) for i in range(1, args.licenses + 1)]
    walls: dict[int, float] = {}
    for workers in (int(n) for n in args.workers.split(",")):
        began = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers, initializer=_open,
                                 initargs=(settings,)) as pool:
            results = list(pool.map(audit_one, numbers, [args.days] * len(numbers)))
        walls[workers] = time.perf_counter() - began
        findings = sum(found for _, found, _ in results)
        print(f"{workers} worker(s): {len(results)} licenses in {walls[workers]:.1f} s "
              f"({60 * len(results) / walls[workers]:.0f} licenses/min), {findings} findings, "
              f"median audit {statistics.median(s for _, _, s in results):.2f} s", flush=True)
    if 1 in walls:
        for workers, wall in walls.items():
            if workers != 1:
                print(f"speed-up with {workers} workers: {walls[1] / wall:.2f}x")


if __name__ == "__main__":
    main()
