"""Benchmark: stream a busy store through the continuous worker, day by day.

    .venv/bin/python bench/worker.py [--days 365] [--receipts-per-day 450]

Each day's files are ingested (not timed), then the worker processes them (timed), as
it would run beside a live import. Prints events/s of the worker alone (wall and
process CPU: this 2-core machine is shared, so CPU is the steadier figure), peak RSS after
each tenth of the run (flat means memory does not grow with history), events read vs
events the evaluators ran (none dropped), and the time one batch of 100 events (one
second at 100 events/s) takes from the worker's read to its committed findings.
Targets: >= 5,000 events/s, <= 500 MB peak RSS, 0 dropped, < 1 s per 100-event batch.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.license import License
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import sample_license
from auditor.services.ingest import ingest
from auditor.services.ports import EventStore
from auditor.services.worker import Worker
from auditor.store.continuous_sql import ContinuousStore

OUT = Path(__file__).parent / "out"


def sample_store(days: int, receipts: int) -> Path:
    """Generate (once) and return the sample store for this size."""
    folder = OUT / f"store-{days}d-{receipts}r"
    if not (folder / "ground-truth.json").exists():
        generate_store(folder, StoreSpec(days=days, receipts_per_day=receipts, seed=1,
                                         start=date(2026, 1, 1)))
    return folder


def peak_mb() -> float:
    """Return this process's peak resident set size in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=450)
    args = parser.parse_args()
    folder = sample_store(args.days, args.receipts_per_day)
    OUT.mkdir(exist_ok=True)
    store = open_store(Settings(database_url=f"sqlite:///{OUT / uuid.uuid4().hex}.db"),
                       migrate=True)
    entries = json.loads((folder / "files.json").read_text())
    spec = json.loads((folder / "ground-truth.json").read_text())["spec"]
    license = sample_license(folder)
    store.add_license(license)
    pack = load_pack(default_rules_dir(), license.state)
    worker = Worker(ContinuousStore(store.engine), [license], lambda _: pack,
                    lateness=timedelta(minutes=5))
    by_day: dict[str, list[dict[str, str]]] = {}
    for entry in entries:
        by_day.setdefault(entry["path"].split("/")[1] if "/" in entry["path"] else "",
                          []).append(entry)
    busy, cpu, marks, memory = 0.0, 0.0, [], []
    for index, (_, day_entries) in enumerate(sorted(by_day.items())):
        for entry in day_entries:
            ingest(store, license.number, entry["format"], entry["path"],
                   (folder / entry["path"]).read_bytes())
        started, started_cpu = time.perf_counter(), time.process_time()
        while worker.step():
            pass
        busy += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        if index % max(1, len(by_day) // 10) == 0:
            marks.append(round(peak_mb()))
            memory.append(worker.progress.working_memory)
    start = date.fromisoformat(spec["start"])
    started, started_cpu = time.perf_counter(), time.process_time()
    worker.flush(local_bounds(license, start, start + timedelta(days=args.days))[1])
    busy += time.perf_counter() - started
    cpu += time.process_time() - started_cpu
    evaluator = next(iter(worker.evaluators.values()))
    read = worker.progress.events_processed
    print(f"worker: {read} events in {busy:.1f} s = {read / busy:,.0f} events/s "
          f"(CPU {cpu:.1f} s = {read / cpu:,.0f} events/s); "
          f"rules in the engine {len(evaluator.programs)}, batch only "
          f"{len(evaluator.batch_only)}; findings {worker.progress.findings_written}")
    print(f"peak RSS MB after each tenth: {marks}; final {peak_mb():.0f}")
    print(f"working memory (facts, waiting triggers, heap) after each tenth: {memory}")
    print(f"events left unprocessed in the heap: {evaluator.buffered()}; "
          f"late (out of order): {evaluator.late}; working memory "
          f"{worker.progress.working_memory}")
    print("facts and waiting triggers per rule:",
          {p.rule.id: (worker.engine.facts(p.name), p.waiting()) for p in evaluator.programs})
    latency(store, license, worker)


def latency(store: EventStore, license: License, worker: Worker) -> None:
    """Time one second of live activity at 100 events/s, from ingest to committed findings.

    Each round imports 100 moves (event times six seconds apart, so the batch itself
    moves the watermark past its first events) of which every tenth carries an invalid
    tag, then runs the worker once; the clock stops when the findings are committed.
    """
    evaluator = next(iter(worker.evaluators.values()))
    assert evaluator.watermark is not None, "the run above moved the clock"
    clock = evaluator.watermark + worker.lateness
    ids = worker.ids[license.number]
    times, found = [], 0
    for round_ in range(10):
        lines = []
        for i in range(100):
            clock += timedelta(seconds=6)
            label = f"bad-{round_}-{i}" if i % 10 == 0 else f"1A4{round_:03d}{i:018d}"
            lines.append(json.dumps({
                "type": "move", "natural_key": f"latency-{round_}-{i}",
                "occurred_at": clock.isoformat(), "package_label": label,
                "payload": {"label": label, "to_location": "Vault"}}))
        before = ContinuousStore(store.engine).count(ids)
        started = time.perf_counter()
        ingest(store, license.number, "events", f"live-{round_}.ndjson",
               "\n".join(lines).encode())
        while worker.step():
            pass
        times.append(time.perf_counter() - started)
        found += ContinuousStore(store.engine).count(ids) - before
    print(f"100 events (1 s at 100 events/s), ingest to committed findings: "
          f"median {sorted(times)[len(times) // 2] * 1000:.0f} ms, max {max(times) * 1000:.0f} ms;"
          f" {found} findings committed (invalid tags, untracked packages, moves without"
          " a location change)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
