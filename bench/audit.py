"""Benchmark: the full rule pack of one state over a year of a busy store.

    .venv/bin/python bench/audit.py [--days 365] [--receipts-per-day 380] [--runs 3]
        [--state CA] [--backends sqlite,postgres]

The store is generated and ingested once per backend (kept under bench/out/); each run
audits it in a child process through `run_audit` (rules on parallel threads, the run
stored), so peak memory is the audit's own. Prints each run,
the slowest rules of the last run, and the medians. Targets: <= 20 s and <= 1 GB on
SQLite.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store, sample_license

sys.path.insert(0, str(Path(__file__).parent))
from ingest import OUT, sample_store  # noqa: E402 - the sibling benchmark's store builder

POSTGRES_SCHEMA = "bench_audit"


def settings_for(backend: str, folder: Path, postgres: str) -> Settings:
    """Return settings for the backend's copy of the ingested store."""
    if backend == "sqlite":
        return Settings(database_url=f"sqlite:///{OUT / (folder.name + '.db')}")
    return Settings(database_url=postgres, database_schema=f"{POSTGRES_SCHEMA}_{folder.name}"
                    .replace("-", "_"))


def ensure_ingested(settings: Settings, folder: Path) -> None:
    """Ingest the sample store once into the backend."""
    if settings.database_schema:
        engine = sa.create_engine(settings.database_url.replace(
            "postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {settings.database_schema}")
        engine.dispose()
    store = open_store(settings, migrate=True)
    if store.list_licenses():
        return
    started = time.perf_counter()
    load_sample_store(store, folder)
    print(f"ingested {folder.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def child(settings_json: str, folder: Path, state: str) -> None:
    """Run the readiness audit once, as `auditor audit` does, and print timings as JSON."""
    settings = Settings(**json.loads(settings_json))
    store = open_store(settings)
    license = sample_license(folder)
    truth = json.loads((folder / "ground-truth.json").read_text())
    start = date.fromisoformat(truth["spec"]["start"])
    end = start + timedelta(days=truth["spec"]["days"] - 1)
    pack = load_pack(default_rules_dir(), state)
    started = time.perf_counter()
    report = run_audit(store, pack, license.number, start, end)
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "findings": len(report.findings), "per_rule": report.seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    """Parse arguments, run the benchmark and print medians."""
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=380)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--state", default="CA")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    folder = sample_store(args.days, args.receipts_per_day)
    for backend in args.backends.split(","):
        settings = settings_for(backend, folder, args.postgres)
        ensure_ingested(settings, folder)
        payload = json.dumps({"database_url": settings.database_url,
                              "database_schema": settings.database_schema})
        runs = [json.loads(subprocess.run(
            [sys.executable, __file__, "--child", payload, str(folder), args.state],
            check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            for _ in range(args.runs)]
        for run in runs:
            print(f"{backend}: {run['seconds']:.1f} s, {run['findings']} findings, "
                  f"peak {run['peak_rss_mb']:.0f} MB", flush=True)
        slowest = sorted(runs[-1]["per_rule"].items(), key=lambda item: -item[1])[:5]
        print(f"{backend} slowest rules: " + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
        print(f"{backend} median: {statistics.median(r['seconds'] for r in runs):.1f} s, peak "
              f"{statistics.median(r['peak_rss_mb'] for r in runs):.0f} MB ({args.runs} runs)",
              flush=True)


if __name__ == "__main__":
    main()
