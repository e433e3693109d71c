"""Benchmark: time the key lookup and the insert of every 100 batches as an import grows.

    .venv/bin/python bench/ingest_phases.py [--days 90] [--receipts-per-day 380]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--sqlite]

Ingests the sample store into a fresh PostgreSQL schema (or SQLite file) and prints,
after each 100 batches, the events stored so far and the seconds those 100 batches
spent looking up existing keys and inserting. A lookup whose time grows with the
table shows a plan that reads more than the keys it asks for.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.services.demo import load_sample_store
from auditor.store import bulk

sys.path.insert(0, str(Path(__file__).parent))
from ingest import OUT, sample_store  # noqa: E402 - the sibling benchmark's store builder

EVERY = 100


def instrument(cls: Any, totals: dict[str, float]) -> None:
    """Wrap the bulk path's lookup and insert with timers that print every EVERY batches."""
    lookup, insert = cls.fingerprints, cls.insert

    def timed_lookup(self: Any, cursor: Any, license_id: int, keys: list[str]) -> Any:
        began = time.perf_counter()
        found = lookup(self, cursor, license_id, keys)
        totals["lookup"] += time.perf_counter() - began
        return found

    def timed_insert(self: Any, cursor: Any, *args: Any) -> None:
        began = time.perf_counter()
        insert(self, cursor, *args)
        totals["insert"] += time.perf_counter() - began
        totals["batches"] += 1
        totals["events"] += len(args[-1])
        if totals["batches"] % EVERY == 0:
            print(f"{totals['events']:>9,.0f} events: last {EVERY} batches lookup "
                  f"{totals['lookup']:.2f} s, insert {totals['insert']:.2f} s", flush=True)
            totals["lookup"] = totals["insert"] = 0.0

    cls.fingerprints, cls.insert = timed_lookup, timed_insert


def main() -> None:
    """Parse arguments, ingest with timers, and drop the scratch database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--receipts-per-day", type=int, default=380)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    folder = sample_store(args.days, args.receipts_per_day)
    totals = {"lookup": 0.0, "insert": 0.0, "batches": 0, "events": 0}
    instrument(bulk.SqliteBulk if args.sqlite else bulk.PostgresBulk, totals)
    schema = f"phases_{uuid.uuid4().hex[:8]}"
    path = OUT / f"{schema}.db"
    admin = sa.create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    if args.sqlite:
        settings = Settings(database_url=f"sqlite:///{path}")
    else:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        settings = Settings(database_url=args.postgres, database_schema=schema)
    try:
        began = time.perf_counter()
        summaries = load_sample_store(open_store(settings, migrate=True), Path(folder))
        events = sum(s.events_added for s in summaries)
        seconds = time.perf_counter() - began
        print(f"{events:,} events in {seconds:.1f} s = {events / seconds:,.0f} events/s")
    finally:
        if args.sqlite:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
