"""Benchmark: concurrent clients on loopback against `auditor serve` (waitress).

    .venv/bin/python bench/api.py [--clients 8] [--seconds 20] [--backends sqlite,postgres]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Per backend: a fresh database with 2,000 POS sale lines METRC never heard of, audited
once (2,000 findings); then `auditor serve` in a child process and, for --seconds,
--clients threads each on its own keep-alive connection: three in four requests read a
random page of 50 findings, one in four posts a 20-line POS import with a fresh
Idempotency-Key. Prints requests/s and p50/p99 latency per kind of request.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.license import License
from auditor.services.access import create_token
from auditor.services.ingest import ingest
from auditor.store.api_sql import SqlTokens

LIC = License("C10-0000123-LIC", "CA", "America/Los_Angeles")
HEADER = ("receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
          "unit,unit_price,total_price,customer_type,customer_id,employee,voided\n")


def pos(receipts: list[str]) -> bytes:
    lines = [f"{r},1,2026-01-05T10:00:00-08:00,1A4FF0100000022000000123,SKU1,Gummies,Edible,"
             "1,Each,10.00,10.00,Consumer,C1,ann,false\n" for r in receipts]
    return (HEADER + "".join(lines)).encode()


def prepare(settings: Settings) -> tuple[str, str, str]:
    store = open_store(settings, migrate=True)
    store.add_license(LIC)
    ingest(store, LIC.number, "pos-sales", "seed.csv", pos([f"S{i}" for i in range(2000)]))
    tokens = SqlTokens(store.engine)
    officer = create_token(tokens, store, "compliance_officer", [LIC.number])[0]
    associate = create_token(tokens, store, "associate", [LIC.number])[0]
    from datetime import date

    from auditor.rules.loader import default_rules_dir, load_pack
    from auditor.services.audit import run_audit
    run = run_audit(store, load_pack(default_rules_dir(), "CA"), LIC.number,
                    date(2026, 1, 1), date(2026, 1, 31))
    store.engine.dispose()
    return officer, associate, run.run_id


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"pos.csv\"\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def client(port: int, officer: str, associate: str, run_id: str, until: float,
           results: dict[str, list[float]], errors: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rng = random.Random()
    while time.perf_counter() < until:
        if rng.random() < 0.75:
            kind, method, body, ctype, secret = "read findings page", "GET", None, None, officer
            path = f"/audits/{run_id}/findings?limit=50&offset={rng.randrange(0, 1950)}"
            extra = {}
        else:
            kind, method, secret = "post import (20 lines)", "POST", associate
            body, ctype = multipart(pos([uuid.uuid4().hex[:12] for _ in range(20)]))
            path = f"/licenses/{LIC.number}/imports?format=pos-sales"
            extra = {"Idempotency-Key": uuid.uuid4().hex}
        headers = {"Authorization": f"Bearer {secret}", **extra}
        if ctype:
            headers["Content-Type"] = ctype
        began = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        results[kind].append(time.perf_counter() - began)
        if response.status >= 400:
            errors.append(response.status)
    conn.close()


def measure(settings: Settings, env: dict[str, str], clients: int, seconds: float) -> None:
    officer, associate, run_id = prepare(settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--port", str(port),
                               "--threads", str(clients)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        results: dict[str, list[float]] = {"read findings page": [], "post import (20 lines)": []}
        errors: list[int] = []
        until = time.perf_counter() + seconds
        threads = [threading.Thread(target=client, args=(port, officer, associate, run_id, until,
                                                          results, errors))
                   for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    total = sum(len(v) for v in results.values())
    print(f"  all: {total / seconds:.0f} requests/s, errors {len(errors)}")
    for kind, times in results.items():
        q = statistics.quantiles(times, n=100)
        print(f"  {kind:24} {len(times) / seconds:7.1f} req/s  p50 {q[49] * 1000:6.1f} ms  "
              f"p99 {q[98] * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}: {args.clients} clients for {args.seconds:.0f} s")
        env = dict(os.environ)
        if backend == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-api-')) / 'a.db'}"
            settings = Settings(database_url=url)
            env["AUDITOR_DATABASE_URL"] = url
            measure(settings, env, args.clients, args.seconds)
            continue
        schema = f"bench_api_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres_url.replace("postgresql://",
                                                           "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        env.update(AUDITOR_DATABASE_URL=args.postgres_url, AUDITOR_DATABASE_SCHEMA=schema)
        try:
            measure(Settings(database_url=args.postgres_url, database_schema=schema), env,
                    args.clients, args.seconds)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


if __name__ == "__main__":
    main()
