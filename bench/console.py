"""Benchmark: the console's pages on a generated sample store, through the Flask app.

    .venv/bin/python bench/console.py [--days 30] [--receipts-per-day 120] [--repeat 7]
                                      [--pages "rule form"]

A sample store of `--days` is generated and ingested once into SQLite
(bench/out/console-*), a compliance officer is created and an audit of the whole period
is run. Each page is then requested once and `--repeat` times more by a signed-in
session (the Flask test client: the app's own work, no network): the first time, then
the median and slowest of the rest, and the median CPU time of the process (which
holds better than wall time on a busy machine). The today page's lists replay the ledger from the
store's first event (count variances, replenishment and sell-soon need on-hand), so the
first request grows with the store's history; later ones reuse the lists until
something new is stored.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

# Run as a script, this folder comes first on the path, and bench/api.py would shadow
# the api package: look in the checkout instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from api import create_app  # noqa: E402
from auditor.bootstrap import open_store  # noqa: E402
from auditor.config import Settings  # noqa: E402
from auditor.sample import StoreSpec, generate_store  # noqa: E402
from auditor.services.demo import load_sample_store  # noqa: E402
from auditor.services.users import create_user  # noqa: E402
from auditor.store.users_sql import SqlUsers  # noqa: E402

OUT = Path(__file__).parent / "out"
LICENSE = "C10-0000123-LIC"
EMAIL, PASSWORD = "officer@bench.example", "bench password 1"


def prepare(days: int, receipts: int) -> Settings:
    """Generate, ingest and audit a store once per size; return its settings."""
    folder = OUT / f"console-{days}d-{receipts}r"
    settings = Settings(database_url=f"sqlite:///{folder / 'auditor.db'}",
                        console_cookie_secure=False, console_secret_key="bench")
    if (folder / "ready").exists():  # made by an older checkout: bring its schema up to date
        open_store(settings, migrate=True).engine.dispose()
        return settings
    folder.mkdir(parents=True, exist_ok=True)
    generate_store(folder / "store", StoreSpec(days=days, receipts_per_day=receipts))
    store = open_store(settings, migrate=True)
    load_sample_store(store, folder / "store")
    create_user(SqlUsers(store.engine), store, EMAIL, PASSWORD, "compliance_officer",
                [LICENSE])
    store.engine.dispose()
    (folder / "ready").touch()
    return settings


def main() -> None:
    """Time each page and print a table of medians."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--receipts-per-day", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pages", default="", help="only the pages whose name starts so")
    args = parser.parse_args()
    settings = prepare(args.days, args.receipts_per_day)
    app = create_app({"AUDITOR_SETTINGS": settings})
    client = app.test_client()
    token = re.search(rb'name="csrf_token" value="([^"]+)"',
                      client.get("/console/sign-in").data).group(1).decode()
    client.post("/console/sign-in", data={"email": EMAIL, "password": PASSWORD,
                                          "csrf_token": token})
    token = re.search(rb'name="csrf_token" value="([^"]+)"',  # a new session: a new token
                      client.get("/console/").data).group(1).decode()
    start = date(2026, 1, 1)
    last = start + timedelta(days=args.days - 1)
    base = f"/console/licenses/{LICENSE}"
    began = time.perf_counter()
    audit = client.post(f"{base}/audits", data={"from": start.isoformat(),
                                                "to": last.isoformat(), "csrf_token": token})
    assert audit.status_code == 302, audit.data[:300]
    # The audit is a job: wait for its page to become the run, so that no page below is
    # timed while the job writes (its end moves the trail's head, which renews the lists).
    while client.get(audit.location).status_code == 200:
        time.sleep(0.1)
    print(f"audit of {args.days} days from the console: {time.perf_counter() - began:.2f} s")
    finding = re.search(rb'href="/console/findings/(\d+)"', client.get(f"{base}/findings").data)
    pages = {"today": f"{base}/today?day={last}", "today lists (drawn)":
             f"{base}/today/lists?day={last}", "today poll, nothing new (204)":
             "", "today stock (htmx, after)":
             f"{base}/today/stock?day={last}", "dashboard": f"{base}/dashboard",
             "findings, page 1": f"{base}/findings", "findings, open only":
             f"{base}/findings?status=open", "a finding": f"/console/findings/"
             f"{finding.group(1).decode() if finding else 1}",
             "rule form": f"{base}/rules/transfer-before-move"}
    if args.pages:
        pages = {name: path for name, path in pages.items() if name.startswith(args.pages)}
    print(f"{'page':28} {'first ms':>9} {'then, median ms':>16} {'max ms':>8} "
          f"{'median CPU ms':>14}")
    for name, path in pages.items():
        if "204" in name:  # the URL the page polls, with the version it shows
            path = re.search(r'hx-get="([^"]*/today/lists[^"]*seen=[^"]*)"', client.get(
                pages["today"]).data.decode()).group(1).replace("&amp;", "&")
        times, cpu = [], []
        for _ in range(args.repeat + 1):
            began, began_cpu = time.perf_counter(), time.process_time()
            answer = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            assert answer.status_code == (204 if "204" in name else 200), (path, answer)
        print(f"{name:28} {times[0]:>9.0f} {statistics.median(times[1:]):>16.0f} "
              f"{max(times[1:]):>8.0f} {statistics.median(cpu[1:]):>14.1f}")


if __name__ == "__main__":
    main()
