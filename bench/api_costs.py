"""What one API request costs the serving process, measured in figures load does not move.

    .venv/bin/python bench/api_costs.py [--requests 2000] [--backends sqlite,postgres]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--no-freeze]

The same store and request mix as bench/api.py (a page of 50 of 2,000 findings; a
5-line POS import with a fresh Idempotency-Key), served in this process through the
app's WSGI interface (Flask's test client, no sockets of its own), one request at a
time. Per kind of request it prints the process's CPU ms, its write system calls
(SQLite's journal and database writes), its SQL statements and, on PostgreSQL, its
round trips to the server (pool pings, BEGIN and COMMIT included; see RoundTrips);
and over the whole mix the garbage collections and their longest pause. Start-up
objects are frozen out of collection as `auditor serve` does (auditor/serving.py),
unless --no-freeze.

On a shared machine wall times swing with the neighbours' load; CPU time, system calls
and statement counts barely do, so before/after comparisons of a change use these.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import create_app  # noqa: E402
from auditor.config import Settings  # noqa: E402
from tests.load import IMPORT, READ, pos_export, prepare, scratch_schema  # noqa: E402


def write_calls() -> int:
    """Return the write system calls this process has made so far (Linux /proc)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise RuntimeError("no syscw in /proc/self/io")


TCP_INFO_DATA_SEGS_OUT = 156  # offset of tcpi_data_segs_out in Linux's struct tcp_info


class RoundTrips:
    """Count the data segments this process sent to PostgreSQL: one per round trip.

    libpq sends a statement's messages (or a ping, BEGIN, COMMIT) in one segment and
    waits for the answer, so the kernel's count of data segments sent on each pooled
    connection (TCP_INFO) counts round trips without touching the driver.
    """

    def __init__(self) -> None:
        self.sockets: dict[int, socket.socket] = {}

    def watch(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        """Pool "checkout" listener: follow the socket of each connection handed out."""
        if id(dbapi_connection) not in self.sockets:
            self.sockets[id(dbapi_connection)] = socket.socket(
                fileno=os.dup(dbapi_connection.pgconn.socket))

    def sent(self) -> int:
        """Return data segments sent so far on every connection followed."""
        total = 0
        for sock in self.sockets.values():
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
            total += struct.unpack_from("I", info, TCP_INFO_DATA_SEGS_OUT)[0]
        return total


def measure(settings: Settings, requests: int, freeze: bool) -> None:
    target = prepare(settings, 0)
    app = create_app({"AUDITOR_SETTINGS": settings})
    engine = app.extensions["auditor"]["store"].engine
    statements = [0]
    event.listen(engine, "after_cursor_execute",
                 lambda *_: statements.__setitem__(0, statements[0] + 1))
    trips = RoundTrips() if engine.dialect.name == "postgresql" else None
    if trips is not None:
        event.listen(engine, "checkout", trips.watch)
    if freeze:
        gc.collect()
        gc.freeze()
    pauses: list[float] = []
    began = [0.0]

    def timed(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - began[0])

    client = app.test_client()
    rng = random.Random(1)
    totals = {kind: [0, 0.0, 0, 0, 0] for kind in (READ, IMPORT)}  # n, cpu, writes, stmts, trips
    gc.callbacks.append(timed)
    for _ in range(requests):
        kind = READ if rng.random() < 0.75 else IMPORT
        trips_before = trips.sent() if trips else 0
        cpu, writes, stmts = time.process_time(), write_calls(), statements[0]
        answer = _request(client, target, kind, rng)
        total = totals[kind]
        total[0] += 1
        total[1] += time.process_time() - cpu
        total[2] += write_calls() - writes
        total[3] += statements[0] - stmts
        total[4] += (trips.sent() if trips else 0) - trips_before
        assert answer.status_code < 300, (answer.status_code, answer.data[:300])
    gc.callbacks.remove(timed)
    for kind, (n, cpu, writes, stmts, trips_made) in totals.items():
        print(f"  {kind:20} n={n:5}  CPU {1000 * cpu / n:5.2f} ms  write calls {writes / n:5.1f}"
              f"  statements {stmts / n:4.1f}"
              + (f"  round trips {trips_made / n:4.1f}" if trips is not None else ""))
    print(f"  garbage collections: {len(pauses)}, {1000 * sum(pauses):.0f} ms in all, longest "
          f"{1000 * max(pauses, default=0):.1f} ms (start-up objects "
          f"{'frozen' if freeze else 'not frozen'})")
    app.extensions["auditor"]["jobs"].queue.close()
    app.extensions["auditor"]["store"].engine.dispose()


def _request(client: Any, target: Any, kind: str, rng: random.Random) -> Any:
    if kind == READ:
        offset = rng.randrange(0, target.findings - 50)
        return client.get(f"/audits/{target.run_id}/findings?limit=50&offset={offset}",
                          headers={"Authorization": f"Bearer {target.officer}"})
    key = uuid.uuid4().hex
    return client.post(f"/licenses/{target.license}/imports?format=pos-sales",
                       headers={"Authorization": f"Bearer {target.associate}",
                                "Idempotency-Key": key},
                       data={"file": (io.BytesIO(pos_export(f"L{key[:20]}", 5)), "pos.csv")})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-freeze", action="store_true")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if len(backends) > 1:  # each in a fresh process: nothing of one run's pools or GC state
        for backend in backends:  # reaches the next
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--backends", backend],
                           check=True)
        return
    for backend in backends:
        print(f"{backend}: {args.requests} requests, one at a time, in this process; load "
              f"average {os.getloadavg()[0]:.1f}", flush=True)
        if backend == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-costs-')) / 'a.db'}"
            measure(Settings(database_url=url), args.requests, not args.no_freeze)
            continue
        with scratch_schema(args.postgres_url, "bench_costs") as schema:
            measure(Settings(database_url=args.postgres_url, database_schema=schema,
                             job_runner="local"), args.requests, not args.no_freeze)


if __name__ == "__main__":
    main()
