"""Benchmark: packets (PDF and Excel) of runs with 100, 1,000 and 10,000 findings.

    .venv/bin/python bench/packets.py [--days 365] [--receipts-per-day 40]
        [--findings 100,1000,10000] [--formats xlsx,pdf] [--runs 3]

A sample store of `--days` is generated and ingested once (bench/out/packets-*), which
gives the supporting logs; for each size a run is stored whose findings are copies of
real events' findings spread over the pack's rules. Each packet is rendered in a child
process, so the peak memory is its own; with `--runs N` each packet is rendered N times
and a last line per packet gives the medians. Targets on the 2-core machine: 1,000
findings PDF (a year, condensed logs) <= 15 s and 1 GB, Excel <= 5 s; 10,000 findings
Excel <= 30 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.packets import PacketDocuments
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import AuditReport, run_audit
from auditor.services.demo import load_sample_store
from auditor.services.packets import PacketSources, current_packet, render_packet
from auditor.services.report_fakes import InMemoryPacketRecords
from auditor.store.report_queries import SqlActivityLog

OUT = Path(__file__).parent / "out"
LICENSE = "C10-0000123-LIC"


def prepare(days: int, receipts: int) -> tuple[str, date, date]:
    """Generate and ingest the store once; return its database URL and period."""
    folder = OUT / f"packets-{days}d-{receipts}r"
    url = f"sqlite:///{folder / 'auditor.db'}"
    start = date(2026, 1, 1)
    end = start + timedelta(days=days - 1)
    fresh = not (folder / "auditor.db").exists()
    if fresh:
        generate_store(folder / "store", StoreSpec(days=days, receipts_per_day=receipts))
    store = open_store(Settings(database_url=url), migrate=True)
    if fresh:
        load_sample_store(store, folder / "store")
    store.engine.dispose()
    return url, start, end


def store_run(url: str, start: date, end: date, size: int) -> str:
    """Store a run with `size` findings: the real ones repeated with distinct subjects."""
    store = open_store(Settings(database_url=url))
    pack = load_pack(default_rules_dir(), "CA")
    real = run_audit(store, pack, LICENSE, start, end)
    seeds = real.findings or []
    found = [replace(seeds[i % len(seeds)], subject=f"{seeds[i % len(seeds)].subject}#{i}")
             for i in range(size)]
    report = AuditReport(uuid.uuid4().hex, real.license, pack, start, end, real.rules, found)
    store.runs.save(report.as_json(), found, datetime.now(UTC))
    return report.run_id


def render_child(url: str, run_id: str, fmt: str) -> dict[str, float]:
    """Build and render one packet; return seconds and peak memory."""
    store = open_store(Settings(database_url=url))
    sources = PacketSources(store, SqlActivityLog(store.engine), InMemoryPacketRecords())
    began = time.perf_counter()
    packet = current_packet(sources, run_id, load_pack(default_rules_dir(), "CA"), "bench")
    built = time.perf_counter()
    data = render_packet(packet, fmt, PacketDocuments())
    done = time.perf_counter()
    rows = sum(len(t["rows"]) for t in packet.content["logs"])
    return {"content_s": round(built - began, 2), "render_s": round(done - built, 2),
            "bytes": len(data), "log_rows": rows,
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    """Run the benchmark and print one line per packet."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=40)
    parser.add_argument("--findings", default="100,1000,10000")
    parser.add_argument("--formats", default="xlsx,pdf")
    parser.add_argument("--runs", type=int, default=1, help="renderings of each packet")
    parser.add_argument("--child", nargs=3, metavar=("URL", "RUN", "FORMAT"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(render_child(*args.child)))
        return
    url, start, end = prepare(args.days, args.receipts_per_day)
    for size in map(int, args.findings.split(",")):
        run_id = store_run(url, start, end, size)
        for fmt in args.formats.split(","):
            runs = []
            for _ in range(args.runs):
                out = subprocess.run([sys.executable, __file__, "--child", url, run_id, fmt],
                                     check=True, capture_output=True, text=True).stdout
                runs.append(json.loads(out))
                print(json.dumps({"findings": size, "format": fmt, **runs[-1]}), flush=True)
            if len(runs) > 1:
                medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(json.dumps({"findings": size, "format": fmt, "median_of": len(runs),
                                  **medians}), flush=True)


if __name__ == "__main__":
    main()
