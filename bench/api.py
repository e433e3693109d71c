"""Benchmark: 50 store terminals against `auditor serve` on loopback, SQLite and PostgreSQL.

    .venv/bin/python bench/api.py [--clients 50] [--seconds 30] [--think 1.0]
        [--processes 2] [--threads 8] [--runs 3] [--backends sqlite,postgres]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--timings] [--lockstep]

Per backend: a fresh database with 2,000 POS sale lines METRC never heard of, audited
once (2,000 findings); then `auditor serve --processes P --threads T` in a child process
and the terminals of tests/load.py (one asyncio process, httpx): three requests in four
read a random page of 50 findings, one in four posts a 5-line POS import with a fresh
Idempotency-Key, each terminal pausing `--think` seconds on average between requests
(0: a closed loop), and once before its first (--lockstep: all send their first request
at once, a burst that made most of the 1 % tail before). After each run every
acknowledged import is counted in the database: it must be there exactly once. Prints
each run's figures and the medians over the runs. With --timings the server also
writes each request's phases (api/timing.py) and each run prints where the slowest
1 % of each kind spent their time (bench/api_timings.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.config import Settings  # noqa: E402
from bench.api_timings import report  # noqa: E402
from tests.load import (  # noqa: E402
    IMPORT,
    READ,
    LoadResult,
    free_port,
    prepare,
    run_load,
    scratch_schema,
    start_server,
    stored_lines,
)


def group_cpu_seconds(group: int) -> float:
    """Return the CPU seconds (user + system) used so far by the processes of a group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[2]) == group:  # pgrp; utime and stime are fields 14 and 15
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def measure(settings: Settings, env: dict[str, str], args: argparse.Namespace) -> list[LoadResult]:
    port = free_port()
    target = prepare(settings, port)
    results = []
    server = start_server(env, port, args.processes, args.threads)
    try:
        for number in range(1, args.runs + 1):
            cpu, began = group_cpu_seconds(server.pid), time.monotonic()
            result = run_load(target, args.clients, args.seconds, args.think, lines=5,
                              lockstep=args.lockstep)
            served = sum(len(v) for v in result.latencies.values())
            server_cpu = group_cpu_seconds(server.pid) - cpu
            counts = stored_lines(settings, result.acknowledged)
            lost = sum(1 for r in result.acknowledged if counts.get(r, 0) == 0)
            doubled = sum(1 for r in result.acknowledged if counts.get(r, 0) > 5)
            print(f" run {number}: acknowledged imports {len(result.acknowledged)}, "
                  f"lost {lost}, stored more than once {doubled}")
            print("\n".join(result.lines()))
            print(f"  server processes: {server_cpu:.1f} CPU s, {1000 * server_cpu / served:.1f} "
                  f"CPU ms per request (PostgreSQL's own CPU not counted); load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            if args.timings:
                print("\n".join(report(result.samples, Path(env["AUDITOR_REQUEST_TIMINGS"]),
                                        began)))
            results.append(result)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    return results


def medians(results: list[LoadResult]) -> None:
    for kind in (READ, IMPORT):
        p50 = statistics.median(r.percentile(kind, 50) for r in results)
        p99 = statistics.median(r.percentile(kind, 99) for r in results)
        rate = statistics.median(len(r.latencies[kind]) / r.seconds for r in results)
        print(f" median of {len(results)} runs: {kind:20} {rate:6.1f} req/s  p50 {p50:6.1f} ms"
              f"  p99 {p99:6.1f} ms")
    print(f" errors in all runs: {sum(len(r.errors) for r in results)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause of a terminal between requests, s (0: closed loop)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--timings", action="store_true",
                        help="have the server time each request's phases; print the tail's")
    parser.add_argument("--lockstep", action="store_true",
                        help="every terminal sends its first request at once (a burst)")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}: {args.clients} terminals, think {args.think} s, {args.runs} runs of "
              f"{args.seconds:.0f} s; auditor serve --processes {args.processes} "
              f"--threads {args.threads}{'; lockstep start' if args.lockstep else ''}",
              flush=True)
        env = dict(os.environ)
        if args.timings:
            env["AUDITOR_REQUEST_TIMINGS"] = tempfile.mkdtemp(prefix="bench-api-timings-")
        if backend == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-api-')) / 'a.db'}"
            env["AUDITOR_DATABASE_URL"] = url
            medians(measure(Settings(database_url=url), env, args))
            continue
        with scratch_schema(args.postgres_url, "bench_api") as schema:
            env.update(AUDITOR_DATABASE_URL=args.postgres_url, AUDITOR_DATABASE_SCHEMA=schema)
            medians(measure(Settings(database_url=args.postgres_url, database_schema=schema),
                            env, args))


if __name__ == "__main__":
    main()
