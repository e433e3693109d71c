"""Benchmark: every associate report, and the packet's supporting logs, over a year.

    .venv/bin/python bench/reports.py [--days 365] [--receipts-per-day 380] [--runs 3]
        [--backends sqlite,postgres] [--only velocity,sell-soon]

The sample store of a busy store is generated and ingested once per backend (shared with
bench/audit.py under bench/out/). Each report is built as `auditor report NAME` builds
it (`build_report` over the SQL activity log) for the whole period, `--runs` times; the
packet's logs step (`supporting_logs`, the part of a packet's content that reads the
history) likewise. Prints each figure's median wall and CPU seconds of this process
(on PostgreSQL the server's CPU is not in it). Target: each report under 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from auditor.bootstrap import open_store
from auditor.domain.license import License
from auditor.domain.rules import parse_deadline
from auditor.services.audit import local_bounds
from auditor.services.demo import sample_license
from auditor.services.report_logs import supporting_logs
from auditor.services.reports import REPORTS, build_report
from auditor.store.report_queries import SqlActivityLog

sys.path.insert(0, str(Path(__file__).parent))
from audit import ensure_ingested, settings_for  # noqa: E402 - the sibling benchmark's store
from ingest import sample_store  # noqa: E402

TARGET_SECONDS = 5.0


def timed(work: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Return the median wall and CPU seconds of `runs` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def step(name: str, log: SqlActivityLog, license: License, start: date,
         end: date) -> Callable[[], list[dict[str, Any]]]:
    """Return the work timed for a report name, or the packet's logs ("packet-logs")."""
    if name == "packet-logs":
        opens, closes = local_bounds(license, start, end)
        return lambda: [t.as_json() for t in supporting_logs(
            log, license.number, license.zone(), opens, closes, parse_deadline("PT24H"))]
    return lambda: build_report(name, log, license, start, end)["tables"]


def main() -> None:
    """Parse arguments, time each report and the packet's logs, print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=380)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--only", default=",".join([*REPORTS, "packet-logs"]),
                        help="comma-separated reports (and packet-logs) to time")
    args = parser.parse_args()
    folder = sample_store(args.days, args.receipts_per_day)
    license = sample_license(folder)
    start = date(2026, 1, 1)
    end = start + timedelta(days=args.days - 1)
    for backend in args.backends.split(","):
        settings = settings_for(backend, folder, args.postgres)
        ensure_ingested(settings, folder)
        log = SqlActivityLog(open_store(settings).engine)
        for name in args.only.split(","):
            work = step(name, log, license, start, end)
            wall, cpu, tables = timed(work, args.runs)
            rows = sum(len(t["rows"]) for t in tables)
            verdict = "ok" if wall < TARGET_SECONDS else f"over {TARGET_SECONDS:.0f} s"
            print(f"{backend} {name}: median {wall:.2f} s wall, {cpu:.2f} s CPU, {rows} rows "
                  f"({args.runs} runs, {args.days} days) {verdict}", flush=True)


if __name__ == "__main__":
    main()
