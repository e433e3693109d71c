"""Store terminals against a running API: many clients on one asyncio loop, through httpx.

Each terminal keeps one keep-alive connection and loops: three requests in four read a
random page of 50 of a run's findings (an officer), one in four posts a small POS export
(an associate) with a fresh Idempotency-Key, then it pauses for its think time (random,
exponential, mean `think` seconds; 0 makes it a closed loop that never waits).
Each terminal also pauses so before its first request: terminals that all sent their
first request in the same millisecond measured a burst of 50 requests at once, not 50
terminals at work (with --timings, 17 of the 19 slowest 1 % of pages of three runs had
been sent in the first 0.6 s). `lockstep=True` starts them together, to measure that.

An import is acknowledged when it is answered 201. One that fails to get an answer
(connection refused or reset, a 5xx) is retried with the same key and body until it is
acknowledged or the run is over, as a terminal would; so after a crash of the server
every acknowledged import must be stored exactly once. The generator is one process
and thread, so it takes as little CPU from the server as a Python client can.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import httpx
import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.license import License
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.access import create_token
from auditor.services.audit import run_audit
from auditor.services.ingest import ingest
from auditor.store.api_sql import SqlTokens
from auditor.store.schema import events

READ, IMPORT = "read findings page", "post import"
LIC = License("C10-0000123-LIC", "CA", "America/Los_Angeles")
SEED_LINES = 2000
LOOP_TICK = 0.01  # how often the client's loop lateness is sampled, s
HEADER = ("receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
          "unit,unit_price,total_price,customer_type,customer_id,employee,voided\n")


def pos_export(receipt: str, lines: int) -> bytes:
    """Return a POS export of one receipt with `lines` lines (sales METRC never heard of)."""
    rows = [f"{receipt},{n},2026-01-05T10:00:00-08:00,1A4FF0100000022000000123,SKU1,Gummies,"
            "Edible,1,Each,10.00,10.00,Consumer,C1,ann,false\n" for n in range(1, lines + 1)]
    return (HEADER + "".join(rows)).encode()


@dataclass
class Target:
    """Where the load goes: the API, its two tokens, the run whose findings are read."""

    base: str
    license: str
    officer: str
    associate: str
    run_id: str
    findings: int


@dataclass
class LoadResult:
    """What the terminals saw."""

    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {READ: [], IMPORT: []})
    errors: list[str] = field(default_factory=list)  # answers >= 400 and failed connections
    acknowledged: list[str] = field(default_factory=list)  # receipt ids answered 201
    retried: int = 0
    client_cpu: float = 0.0
    # (X-Load-Id, kind, sent, answered) per answered request: bench/api.py --timings
    # lines these up with the server's own timings of the same requests.
    samples: list[tuple[str, str, float, float]] = field(default_factory=list)
    loop_lags: list[float] = field(default_factory=list)  # the client loop's lateness, s

    def percentile(self, kind: str, q: int) -> float:
        """Return the q-th percentile latency of a kind of request, in ms."""
        times = self.latencies[kind]
        if len(times) < 2:
            return times[0] * 1000 if times else float("nan")
        return statistics.quantiles(times, n=100)[q - 1] * 1000

    def lines(self) -> list[str]:
        """Return the figures as printable lines."""
        total = sum(len(v) for v in self.latencies.values())
        out = [f"  all: {total / self.seconds:.0f} requests/s, errors {len(self.errors)}, "
               f"imports retried {self.retried}, client CPU {self.client_cpu:.1f} s "
               f"({100 * self.client_cpu / self.seconds:.0f} % of one core)"]
        if len(self.loop_lags) > 1:
            lags = statistics.quantiles(self.loop_lags, n=100)
            out.append(f"  client event loop late by p50 {1000 * lags[49]:.1f} ms, p99 "
                       f"{1000 * lags[98]:.1f} ms, max {1000 * max(self.loop_lags):.1f} ms")
        for kind, times in self.latencies.items():
            p50, p99 = self.percentile(kind, 50), self.percentile(kind, 99)
            out.append(f"  {kind:20} {len(times) / self.seconds:7.1f} req/s  p50 {p50:6.1f} ms"
                       f"  p99 {p99:6.1f} ms")
        return out


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


@contextlib.contextmanager
def scratch_schema(url: str, prefix: str) -> Iterator[str]:
    """Yield the name of a new PostgreSQL schema at url, dropped with its tables after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


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


async def _terminal(http: httpx.AsyncClient, target: Target, until: float, think: float,
                    lines: int, result: LoadResult, rng: random.Random,
                    lockstep: bool) -> None:
    if think > 0 and not lockstep:
        await asyncio.sleep(rng.expovariate(1 / think))
    while time.monotonic() < until:
        if rng.random() < 0.75:
            offset = rng.randrange(0, max(1, target.findings - 50))
            await _read(http, target, offset, result)
        else:
            await _import(http, target, until, lines, result)
        if think > 0:
            await asyncio.sleep(rng.expovariate(1 / think))


async def _read(http: httpx.AsyncClient, target: Target, offset: int,
                result: LoadResult) -> None:
    load_id = uuid.uuid4().hex
    began = time.monotonic()
    try:
        answer = await http.get(f"{target.base}/audits/{target.run_id}/findings",
                                params={"limit": 50, "offset": offset},
                                headers={"Authorization": f"Bearer {target.officer}",
                                         "X-Load-Id": load_id})
    except httpx.HTTPError as error:
        result.errors.append(f"{READ}: {type(error).__name__}")
        return
    answered = time.monotonic()
    result.latencies[READ].append(answered - began)
    result.samples.append((load_id, READ, began, answered))
    if answer.status_code >= 400:
        result.errors.append(f"{READ}: {answer.status_code}")


async def _import(http: httpx.AsyncClient, target: Target, until: float, lines: int,
                  result: LoadResult) -> None:
    key = uuid.uuid4().hex
    receipt = f"L{key[:20]}"
    body = pos_export(receipt, lines)
    headers = {"Authorization": f"Bearer {target.associate}", "Idempotency-Key": key}
    first = True
    while time.monotonic() < until + 30:  # keep retrying a little past the end
        load_id = uuid.uuid4().hex
        began = time.monotonic()
        try:
            answer = await http.post(f"{target.base}/licenses/{target.license}/imports",
                                     params={"format": "pos-sales"},
                                     headers={**headers, "X-Load-Id": load_id},
                                     files={"file": ("pos.csv", body, "text/csv")})
        except httpx.HTTPError as error:
            result.errors.append(f"{IMPORT}: {type(error).__name__}")
        else:
            if first:
                answered = time.monotonic()
                result.latencies[IMPORT].append(answered - began)
                result.samples.append((load_id, IMPORT, began, answered))
            if answer.status_code == 201:
                result.acknowledged.append(receipt)
                return
            result.errors.append(f"{IMPORT}: {answer.status_code}")
            if answer.status_code < 500 and answer.status_code != 409:
                return  # refused for good: retrying would not help
        first = False
        result.retried += 1
        await asyncio.sleep(0.2)


async def _watch_loop(until: float, result: LoadResult) -> None:
    """Record how late the client's own loop wakes: a terminal's request waits as long."""
    while time.monotonic() < until:
        asked = time.monotonic()
        await asyncio.sleep(LOOP_TICK)
        result.loop_lags.append(max(0.0, time.monotonic() - asked - LOOP_TICK))


async def _run(target: Target, clients: int, seconds: float, think: float,
               lines: int, lockstep: bool) -> LoadResult:
    result = LoadResult(seconds)
    # A client of its own per terminal: one keep-alive connection each, as 50 machines
    # would have. One pool shared by all handed a free connection to whichever terminal
    # asked, so after a staggered start some 20 connections carried every request, and
    # the kernel's per-connection choice of serving process (SO_REUSEPORT) gave one
    # process 1,381 requests of a run and the other 49. Made before the clock starts
    # (each takes milliseconds of the loop) and sharing one TLS context (unused here).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout, tls = httpx.Timeout(30.0, connect=5.0), ssl.create_default_context()
    async with contextlib.AsyncExitStack() as stack:
        https = [await stack.enter_async_context(
            httpx.AsyncClient(limits=limits, timeout=timeout, verify=tls))
            for _ in range(clients)]
        until = time.monotonic() + seconds
        rngs = [random.Random(i) for i in range(clients)]
        await asyncio.gather(_watch_loop(until, result),
                             *(_terminal(http, target, until, think, lines, result, rng,
                                         lockstep) for http, rng in zip(https, rngs, strict=True)))
    return result


def run_load(target: Target, clients: int = 50, seconds: float = 30, think: float = 0.0,
             lines: int = 5, lockstep: bool = False) -> LoadResult:
    """Run clients terminals against target for seconds; return what they saw.

    lockstep: every terminal sends its first request at once (a burst), instead of
    after a first pause like the others.
    """
    cpu = time.process_time()
    result = asyncio.run(_run(target, clients, seconds, think, lines, lockstep))
    result.client_cpu = time.process_time() - cpu
    return result
