"""Benchmark: 50 store terminals against `auditor serve` on loopback, SQLite and PostgreSQL.

    .venv/bin/python bench/api.py [--clients 50] [--seconds 30] [--think 1.0]
        [--processes 2] [--threads 8] [--runs 3] [--backends sqlite,postgres]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Per backend: a fresh database with 2,000 POS sale lines METRC never heard of, audited
once (2,000 findings); then `auditor serve --processes P --threads T` in a child process
and the terminals of tests/load.py (one asyncio process, httpx): three requests in four
read a random page of 50 findings, one in four posts a 5-line POS import with a fresh
Idempotency-Key, each terminal pausing `--think` seconds on average between requests
(0: a closed loop). After each run every acknowledged import is counted in the database:
it must be there exactly once. Prints each run's figures and the medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.bootstrap import open_store  # noqa: E402
from auditor.config import Settings  # noqa: E402
from auditor.domain.license import License  # noqa: E402
from auditor.rules.loader import default_rules_dir, load_pack  # noqa: E402
from auditor.services.access import create_token  # noqa: E402
from auditor.services.audit import run_audit  # noqa: E402
from auditor.services.ingest import ingest  # noqa: E402
from auditor.store.api_sql import SqlTokens  # noqa: E402
from auditor.store.schema import events  # noqa: E402
from tests.load import IMPORT, READ, LoadResult, Target, pos_export, run_load  # noqa: E402

LIC = License("C10-0000123-LIC", "CA", "America/Los_Angeles")
SEED_LINES = 2000


def prepare(settings: Settings, port: int) -> Target:
    """Make the store, the two tokens and the audited run the terminals read."""
    store = open_store(settings, migrate=True)
    store.add_license(LIC)
    seed = b"".join(pos_export(f"S{i}", 1).split(b"\n", 1)[1] for i in range(SEED_LINES))
    ingest(store, LIC.number, "pos-sales", "seed.csv", pos_export("S", 0) + seed)
    tokens = SqlTokens(store.engine)
    officer = create_token(tokens, store, "compliance_officer", [LIC.number])[0]
    associate = create_token(tokens, store, "associate", [LIC.number])[0]
    run = run_audit(store, load_pack(default_rules_dir(), "CA"), LIC.number,
                    date(2026, 1, 1), date(2026, 1, 31))
    store.engine.dispose()
    return Target(f"http://127.0.0.1:{port}", LIC.number, officer, associate, run.run_id,
                  len(run.findings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, processes: int,
                 threads: int) -> subprocess.Popen[bytes]:
    """Start `auditor serve` in its own process group; return once it answers."""
    server = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--port", str(port),
                               "--processes", str(processes), "--threads", str(threads)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("auditor serve did not start")


def stored_lines(settings: Settings, receipts: list[str]) -> dict[str, int]:
    """Return how many events each receipt has in the database."""
    store = open_store(settings)
    counts: dict[str, int] = {}
    with store.engine.connect() as conn:
        for i in range(0, len(receipts), 500):
            chunk = receipts[i:i + 500]
            counts.update(conn.execute(sa.select(events.c.reference, sa.func.count())
                                       .where(events.c.reference.in_(chunk))
                                       .group_by(events.c.reference)).all())
    store.engine.dispose()
    return counts


def measure(settings: Settings, env: dict[str, str], args: argparse.Namespace) -> list[LoadResult]:
    port = free_port()
    target = prepare(settings, port)
    results = []
    server = start_server(env, port, args.processes, args.threads)
    try:
        for number in range(1, args.runs + 1):
            result = run_load(target, args.clients, args.seconds, args.think, lines=5)
            counts = stored_lines(settings, result.acknowledged)
            lost = sum(1 for r in result.acknowledged if counts.get(r, 0) == 0)
            doubled = sum(1 for r in result.acknowledged if counts.get(r, 0) > 5)
            print(f" run {number}: acknowledged imports {len(result.acknowledged)}, "
                  f"lost {lost}, stored more than once {doubled}")
            print("\n".join(result.lines()))
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
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}: {args.clients} terminals, think {args.think} s, {args.runs} runs of "
              f"{args.seconds:.0f} s; auditor serve --processes {args.processes} "
              f"--threads {args.threads}", flush=True)
        env = dict(os.environ)
        if backend == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-api-')) / 'a.db'}"
            env["AUDITOR_DATABASE_URL"] = url
            medians(measure(Settings(database_url=url), env, args))
            continue
        schema = f"bench_api_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres_url.replace("postgresql://",
                                                           "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        env.update(AUDITOR_DATABASE_URL=args.postgres_url, AUDITOR_DATABASE_SCHEMA=schema)
        try:
            medians(measure(Settings(database_url=args.postgres_url, database_schema=schema),
                            env, args))
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


if __name__ == "__main__":
    main()
