"""Benchmark: ingest a year of a busy store into SQLite and PostgreSQL.

    .venv/bin/python bench/ingest.py [--days 365] [--receipts-per-day 450] [--runs 3]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Each run ingests into a fresh database in a child process, so peak memory is the
ingest's own. Prints one line per run (wall rate, the child's CPU seconds and events
per CPU-second, peak RSS, the load average as the run ended) and the medians;
targets: >= 20,000 events/s and <= 500 MB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.sample import StoreSpec, generate_store
from auditor.services.demo import load_sample_store

OUT = Path(__file__).parent / "out"


def sample_store(days: int, receipts: int) -> Path:
    """Generate (once) and return the sample store for this size."""
    folder = OUT / f"store-{days}d-{receipts}r"
    if not (folder / "ground-truth.json").exists():
        started = time.perf_counter()
        truth = generate_store(folder, StoreSpec(days=days, receipts_per_day=receipts, seed=1,
                                                 start=date(2026, 1, 1)))
        print(f"generated {sum(truth['event_counts'].values())} events in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return folder


def child(folder: Path, url: str, schema: str | None) -> None:
    """Ingest folder into a fresh database and print the figures as JSON."""
    store = open_store(Settings(database_url=url, database_schema=schema), migrate=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    summaries = load_sample_store(store, folder)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    events = sum(s.events_added for s in summaries)
    print(json.dumps({"events": events, "seconds": seconds, "cpu_seconds": cpu,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def one_run(folder: Path, backend: str, postgres: str) -> dict[str, float]:
    """Run one child ingest on a fresh SQLite file or PostgreSQL schema."""
    schema = None
    if backend == "sqlite":
        path = OUT / f"bench-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
    else:
        url, schema = postgres, f"bench_{uuid.uuid4().hex[:8]}"
        _admin(postgres, f"CREATE SCHEMA {schema}")
    try:
        out = subprocess.run([sys.executable, __file__, "--child", str(folder), url,
                              schema or ""], check=True, capture_output=True, text=True).stdout
        # The ingesting process's own CPU time holds under load; wall time does not.
        return {**json.loads(out.splitlines()[-1]), "load": os.getloadavg()[0]}
    finally:
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            _admin(postgres, f"DROP SCHEMA {schema} CASCADE")


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def main() -> None:
    """Parse arguments, run the benchmark and print medians."""
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), sys.argv[3], sys.argv[4] or None)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=450)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    folder = sample_store(args.days, args.receipts_per_day)
    for backend in args.backends.split(","):
        runs = [one_run(folder, backend, args.postgres) for _ in range(args.runs)]
        for run in runs:
            print(f"{backend}: {run['events']} events in {run['seconds']:.1f} s = "
                  f"{run['events'] / run['seconds']:,.0f} events/s; "
                  f"{run['cpu_seconds']:.1f} CPU s = "
                  f"{run['events'] / run['cpu_seconds']:,.0f} events per CPU-second; "
                  f"peak {run['peak_rss_mb']:.0f} MB; load average {run['load']:.1f}")
        rates = [r["events"] / r["seconds"] for r in runs]
        cpu_rates = [r["events"] / r["cpu_seconds"] for r in runs]
        print(f"{backend} median: {statistics.median(rates):,.0f} events/s, "
              f"{statistics.median(cpu_rates):,.0f} events per CPU-second, peak "
              f"{statistics.median(r['peak_rss_mb'] for r in runs):.0f} MB "
              f"({runs[0]['events']} events, {args.runs} runs)")


if __name__ == "__main__":
    main()
