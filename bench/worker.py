"""Benchmark: `auditor worker --once` over a stored year, its memory, and its live latency.

    .venv/bin/python bench/worker.py [--days 365] [--compare-days 30] [--receipts-per-day 380]

For each store size (the shorter one first) the sample store is generated and ingested
once into bench/out/worker-<days>d-<receipts>r.db (kept for later runs), the worker's
tables are emptied, and `auditor worker --once --until <end of period>` runs in a child
process. Printed per size: events, wall time, events/s of wall and of the child's CPU
time (per core: the worker is single-threaded), the child's own peak RSS, the standing
findings and whether they equal the batch audit's (same rules, same period).

Then a live worker is started on a fresh copy of the larger store, and once it says it
is ready (its start-up rehearsal done; the time is printed) left idle; each round imports
a file of --latency-events sales (the store's last POS lines and METRC sale lines, moved
on a day each round, with fresh keys and receipt numbers, and one move of a malformed
tag, which tag-invalid reports at once), then --count-rounds files of the store's last
count (a night's count file, moved on likewise), and times the moment the import
committed to the moment the worker committed the file's findings (that move's finding is
there) and to its checkpoint (the full-count rule, re-judged over the whole history when
count lines arrive, commits last).
Targets: peak RSS <= 500 MB and within 20 % between the sizes; >= 5,000 events/s per
core; latency < 1 s for a file of < 1,000 events.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.findings import explain
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import load_sample_store, sample_license
from auditor.services.ingest import ingest
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.schema import continuous_findings, events, worker_checkpoints

OUT = Path(__file__).parent / "out"
# Runs the CLI and reports the child's own peak RSS (KB) and CPU seconds on stderr.
CHILD = ("import atexit, resource, sys\n"
         "def report():\n"
         "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
         "    print(f'BENCH {u.ru_maxrss} {u.ru_utime + u.ru_stime}', file=sys.stderr)\n"
         "atexit.register(report)\n"
         "from auditor.cli import main\n"
         "main(sys.argv[1:])\n")


def loaded_store(days: int, receipts: int) -> tuple[Settings, Path]:
    """Generate and ingest (once) the sample store of this size; return its settings."""
    folder = OUT / f"store-{days}d-{receipts}r"
    if not (folder / "ground-truth.json").exists():
        generate_store(folder, StoreSpec(days=days, receipts_per_day=receipts, seed=1,
                                         start=date(2026, 1, 1)))
    db = OUT / f"worker-{days}d-{receipts}r.db"
    settings = Settings(database_url=f"sqlite:///{db}")
    marker = db.with_suffix(".loaded")
    if not marker.exists():
        for stale in OUT.glob(db.name + "*"):
            stale.unlink()
        store = open_store(settings, migrate=True)
        started = time.perf_counter()
        load_sample_store(store, folder)
        print(f"ingested {days} days in {time.perf_counter() - started:.0f} s (not timed below)")
        store.engine.dispose()
        marker.write_text("loaded\n")
    return settings, folder


def run_once(settings: Settings, folder: Path, days: int) -> dict[str, float]:
    """Empty the worker's tables, run `worker --once` in a child, return its figures."""
    store = open_store(settings, migrate=True)
    with store.engine.begin() as conn:
        conn.execute(sa.delete(continuous_findings))
        conn.execute(sa.delete(worker_checkpoints))
        stored = conn.scalar(sa.select(sa.func.count()).select_from(events))
    license = sample_license(folder)
    spec = json.loads((folder / "ground-truth.json").read_text())["spec"]
    start = date.fromisoformat(spec["start"])
    bounds = local_bounds(license, start, start + timedelta(days=days))
    command = [sys.executable, "-c", CHILD, "worker", "--no-supervise", "--once",
               "--license", license.number, "--until",
               bounds[1].strftime("%Y-%m-%dT%H:%M:%S%z")]
    env = {**os.environ, "AUDITOR_DATABASE_URL": settings.database_url}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    line = next(x for x in done.stderr.splitlines() if x.startswith("BENCH "))
    rss_kb, cpu = (float(x) for x in line.split()[1:])
    license_id = ContinuousStore(store.engine).license_ids([license.number])[license.number]
    standing = sorted(r["identity"] for r in ContinuousStore(store.engine).findings(
        license_id, ("open", "remedied"), *bounds))  # latency rounds add moves after it
    pack = load_pack(default_rules_dir(), license.state)
    batch = sorted(explain(rule, v, license.zone()).identity
                   for rule in pack.rules if rule.applies_to(license.state)
                   for v in store.evaluate(license.number, rule, *bounds).violations)
    store.engine.dispose()
    return {"events": stored, "wall": wall, "cpu": cpu, "rss_mb": rss_kb / 1024,
            "findings": len(standing), "equal": float(standing == batch)}


RUN = time.strftime("%Y%m%d%H%M%S")  # this run's markers


def live_latency(settings: Settings, folder: Path, size: int, rounds: int,
                 count_rounds: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Time files into an idle worker on a fresh copy of the store (earlier runs' files
    would lengthen the histories of the tags they reuse): `rounds` files of `size` sales,
    then `count_rounds` files of the store's last count; each from the import's commit to
    the commit of the file's findings (its marker's), and to the step's checkpoint."""
    source = Path(settings.database_url.removeprefix("sqlite:///"))
    copy = OUT / "live-copy.db"
    shutil.copyfile(source, copy)
    settings = Settings(database_url=f"sqlite:///{copy}")
    store = open_store(settings, migrate=True)
    license = sample_license(folder)
    env = {**os.environ, "AUDITOR_DATABASE_URL": settings.database_url}
    log = OUT / "live-worker.log"
    with log.open("w") as err:
        child = subprocess.Popen([sys.executable, "-m", "auditor", "worker", "--no-supervise",
                                  "--license", license.number], env=env,
                                 stdout=subprocess.DEVNULL, stderr=err)
    try:
        sales, count = last_sales(store, size), last_count(store)
        started = time.perf_counter()
        wait_ready(log, child)
        print(f"live worker ready {time.perf_counter() - started:.1f} s after its start")
        files = [next_day(sales, r) for r in range(rounds)]
        files += [next_day(count, rounds + r) for r in range(count_rounds)]
        times = [time_file(store, child, license.number, body, n)
                 for n, body in enumerate(files)]
    finally:
        child.terminate()
        child.wait(timeout=60)
        store.engine.dispose()
    return times[:rounds], times[rounds:]


def time_file(store, child: subprocess.Popen, number: str, body: str,
              round_: int) -> tuple[float, float]:
    """Import one file into the idle worker; return the seconds from its commit (the
    moment COMMIT is issued) to its findings' commit and to the checkpoint."""
    wait_idle(store, child)
    commits: list[float] = []
    stamp = lambda _conn: commits.append(time.perf_counter())  # noqa: E731
    sa.event.listen(store.engine, "commit", stamp)
    try:
        ingest(store, number, "events", f"live-{round_}.ndjson", body.encode())
    finally:
        sa.event.remove(store.engine, "commit", stamp)
    # From the import's COMMIT, not from ingest's return: SQLite may checkpoint its WAL
    # inside the commit call after the transaction is visible, and the worker may have
    # settled the file before the call returns.
    committed = commits[-1]
    wait_found(store, child, marker(round_))
    found = time.perf_counter()
    wait_idle(store, child)
    return found - committed, time.perf_counter() - committed


def marker(round_: int) -> str:
    """Return the tag of the round's marker: a move of a malformed tag (tag-invalid),
    new in every run (the store keeps the findings of earlier runs' markers)."""
    return f"LIVE-{RUN}-{round_}"


def wait_found(store, child: subprocess.Popen, tag: str, timeout: float = 600) -> None:
    """Wait until the worker has committed a finding about the package tag."""
    deadline = time.monotonic() + timeout
    query = sa.select(continuous_findings.c.id).where(continuous_findings.c.package_label == tag)
    with store.engine.connect() as conn:
        while time.monotonic() < deadline and child.poll() is None:
            found = conn.scalar(query.limit(1))
            conn.rollback()
            if found is not None:
                return
            time.sleep(0.002)
    raise SystemExit(f"the worker did not report the marker {tag} (exit {child.poll()})")


def last_sales(store, size: int) -> list[dict[str, object]]:
    """Return the store's last POS lines and METRC sale lines (half each), as stored."""
    with store.engine.connect() as conn:
        rows = [row for kind in ("pos_sale_line", "metrc_sale_line")
                for row in conn.execute(sa.select(events).where(events.c.type == kind)
                                        .order_by(events.c.id.desc()).limit(size // 2))]
    return [as_line(r) for r in rows]


def last_count(store) -> list[dict[str, object]]:
    """Return the lines of the store's last count (a night's count file), as stored."""
    with store.engine.connect() as conn:
        last = conn.scalar(sa.select(events.c.reference).where(events.c.type == "count_line")
                           .order_by(events.c.id.desc()).limit(1))
        rows = conn.execute(sa.select(events).where(events.c.type == "count_line",
                                                    events.c.reference == last)).all()
    return [as_line(r) for r in rows]


def as_line(r) -> dict[str, object]:
    """Return a stored event row as a template line for next_day."""
    return {"type": r.type, "occurred_at": r.occurred_at, "package_label": r.package_label,
            "reference": r.reference, "id": r.id,
            "payload": json.loads(r.payload) if isinstance(r.payload, str) else r.payload}


def next_day(template: list[dict[str, object]], round_: int) -> str:
    """Return the sales of the template moved on round_ + 1 days, as one events file: a
    day's POS export and METRC sales, with fresh keys and receipt numbers."""
    shift = timedelta(days=round_ + 1)
    lines = []
    for e in template:
        payload = {k: shifted(v, shift) for k, v in dict(e["payload"]).items()}
        reference = f"{e['reference']}-L{round_}" if e["reference"] else None
        for key in ("external_receipt_number", "receipt_number", "count_id"):
            if payload.get(key):
                payload[key] = reference
        lines.append(json.dumps({
            "type": e["type"], "natural_key": f"live-{time.time_ns()}-{e['id']}",
            "occurred_at": (e["occurred_at"].replace(tzinfo=UTC) + shift).isoformat(),
            "package_label": e["package_label"], "reference": reference,
            "payload": payload}))
    tag = marker(round_)  # a finding the file is sure to raise, at once (not pending)
    lines.append(json.dumps({
        "type": "move", "natural_key": f"live-{time.time_ns()}-marker",
        "occurred_at": (template[0]["occurred_at"].replace(tzinfo=UTC) + shift).isoformat(),
        "package_label": tag, "payload": {"label": tag, "to_location": "Vault"}}))
    return "\n".join(lines)


def shifted(value: object, shift: timedelta) -> object:
    """Return a payload value moved by shift if it is an ISO time, else as it is."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return (datetime.fromisoformat(value) + shift).isoformat()
        except ValueError:
            return value
    return value


def wait_ready(log: Path, child: subprocess.Popen, timeout: float = 600) -> None:
    """Wait until the worker says it is ready (its start-up rehearsal done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        if "worker ready" in log.read_text(errors="replace"):
            return
        time.sleep(0.01)
    raise SystemExit(f"the worker did not get ready (exit {child.poll()})")


def wait_idle(store, child: subprocess.Popen, timeout: float = 600) -> None:
    """Wait until the worker's checkpoint reaches the last stored event."""
    deadline = time.monotonic() + timeout
    with store.engine.connect() as conn:
        while time.monotonic() < deadline and child.poll() is None:
            last = conn.scalar(sa.select(sa.func.max(events.c.id)))
            done = conn.scalar(sa.select(sa.func.max(worker_checkpoints.c.last_event_id)))
            conn.rollback()
            if done == last:
                return
            time.sleep(0.002)
    raise SystemExit(f"the worker did not catch up (exit {child.poll()})")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--compare-days", type=int, default=30)
    parser.add_argument("--receipts-per-day", type=int, default=380)
    parser.add_argument("--latency-events", type=int, default=900)
    parser.add_argument("--latency-rounds", type=int, default=7)
    parser.add_argument("--count-rounds", type=int, default=3,
                        help="Files of the store's last count, timed after the sales files.")
    parser.add_argument("--latency-only", action="store_true",
                        help="Skip the --once runs: time the live worker on the larger store.")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print(f"{datetime.now():%Y-%m-%d %H:%M}, load average {os.getloadavg()[0]:.1f}")
    figures = {}
    for days in () if args.latency_only else (args.compare_days, args.days):
        settings, folder = loaded_store(days, args.receipts_per_day)
        f = figures[days] = run_once(settings, folder, days)
        print(f"{days} days: {f['events']:,.0f} events, worker --once {f['wall']:.1f} s wall "
              f"= {f['events'] / f['wall']:,.0f} events/s; CPU {f['cpu']:.1f} s = "
              f"{f['events'] / f['cpu']:,.0f} events/s per core; peak RSS "
              f"{f['rss_mb']:.0f} MB; standing findings {f['findings']:.0f}, equal to the "
              f"batch audit: {'yes' if f['equal'] else 'NO'}")
    if figures:
        small, large = figures[args.compare_days]["rss_mb"], figures[args.days]["rss_mb"]
        print(f"peak RSS {args.days} vs {args.compare_days} days: {large / small:.2f} x")
    settings, folder = loaded_store(args.days, args.receipts_per_day)
    sales, counts = live_latency(settings, folder, args.latency_events, args.latency_rounds,
                                 args.count_rounds)
    for times, what in ((sales, f"a file of {args.latency_events} sales"),
                        (counts, "a night's count file")):
        for name, lane in (("findings commit (every rule but the full-count one)", 0),
                           ("checkpoint (the full-count rule re-judged too)", 1)):
            each = [t[lane] for t in times]
            if each:
                print(f"live: {what}, import commit to {name}: median "
                      f"{statistics.median(each) * 1000:.0f} ms, max {max(each) * 1000:.0f} ms "
                      f"({len(each)} rounds: {', '.join(f'{t * 1000:.0f}' for t in each)} ms)")


if __name__ == "__main__":
    main()
