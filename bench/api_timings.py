"""Where a request's time went: the terminals' own times lined up with the server's phases.

`bench/api.py --timings` runs the server with AUDITOR_REQUEST_TIMINGS (api/timing.py)
and calls `report` after each run. Each request the terminals sent carries an
X-Load-Id, so its client-side send and answer times meet the server's line for it, all
on the machine's one monotonic clock. A request's latency splits into:

  before app   sent by the client until the app began: the client's event loop, the
               kernel, waitress reading the request and handing it to a free thread
  cpu          the serving thread's CPU time inside the app
  db           inside database statements (the round trip, waits for locks or commits)
  gc           this process's garbage collections while the request ran (all threads stop)
  ready        what is left of the app's time: the thread could run but did not (the GIL
               held by another thread of the process, or a sleep)
  after app    the app's end until the client had the whole answer

printed as the mean of the slowest 1 % ("tail") and of the rest, per kind of request.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

PHASES = ("before app", "cpu", "db", "gc", "ready", "after app")


def server_lines(folder: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Return the server's request lines by X-Load-Id, and its garbage collections."""
    requests: dict[str, dict[str, Any]] = {}
    collections = []
    for path in folder.glob("requests-*.jsonl"):
        for text in path.read_text().splitlines():
            line = json.loads(text)
            if "gc" in line and "began" not in line:
                collections.append(line)
            elif line.get("id"):
                requests[line["id"]] = line
    return requests, collections


def phases(sent: float, answered: float, line: dict[str, Any]) -> dict[str, float]:
    """Return a request's phases in ms (see the module's docstring)."""
    app = line["ended"] - line["began"]
    ready = max(0.0, app - line["cpu"] - line["db"] - line["gc"])
    return {"before app": 1000 * (line["began"] - sent), "cpu": 1000 * line["cpu"],
            "db": 1000 * line["db"], "gc": 1000 * line["gc"], "ready": 1000 * ready,
            "after app": 1000 * (answered - line["ended"]),
            "stmts": line["stmts"], "overlap": line.get("overlap", 0),
            "running": line.get("running_before", 0)}


def _overlaps(requests: dict[str, dict[str, Any]]) -> None:
    """Set each request's `overlap`: how many other requests of its process ran meanwhile."""
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for line in requests.values():
        by_pid.setdefault(line["pid"], []).append(line)
    for lines in by_pid.values():
        lines.sort(key=lambda x: x["began"])
        for i, line in enumerate(lines):
            count = 0
            for other in lines[max(0, i - 40):i + 40]:
                if other is not line and other["began"] < line["ended"] and \
                        other["ended"] > line["began"]:
                    count += 1
            line["overlap"] = count


def report(samples: list[tuple[str, str, float, float]], folder: Path,
           run_began: float) -> list[str]:
    """Return printable lines: per kind, the mean phases of the tail and of the rest."""
    requests, collections = server_lines(folder)
    _overlaps(requests)
    out = []
    for kind in sorted({s[1] for s in samples}):
        rows = sorted(((answered - sent, phases(sent, answered, requests[load_id]), sent)
                       for load_id, k, sent, answered in samples
                       if k == kind and load_id in requests), key=lambda r: r[0])
        if len(rows) < 10:
            continue
        cut = max(1, len(rows) // 100)
        for label, group in (("tail 1 %", rows[-cut:]), ("rest", rows[:-cut])):
            means = {name: statistics.fmean(p[name] for _, p, _ in group)
                     for name in (*PHASES, "stmts", "overlap", "running")}
            out.append(f"  {kind:20} {label:8} n={len(group):4} total "
                       f"{1000 * statistics.fmean(t for t, _, _ in group):6.1f} ms = "
                       + " + ".join(f"{name} {means[name]:.1f}" for name in PHASES)
                       + f"; {means['stmts']:.1f} statements; other requests of the "
                       f"process: {means['running']:.1f} in the app at its start, "
                       f"{means['overlap']:.1f} overlapping")
        out.append(f"  {kind:20} tail sent at (s into the run): " + ", ".join(
            f"{sent - run_began:.1f}" for _, _, sent in sorted(rows[-cut:], key=lambda r: r[2])))
    ids = {s[0] for s in samples}
    per_process: dict[int, int] = {}
    connections: dict[int, set[str]] = {}
    for load_id, line in requests.items():
        if load_id in ids:
            per_process[line["pid"]] = per_process.get(line["pid"], 0) + 1
            connections.setdefault(line["pid"], set()).add(line.get("port"))
    out.append("  requests (connections) per serving process: " + " / ".join(
        f"{n} ({len(connections[pid])})" for pid, n in sorted(per_process.items())))
    ran = [c for c in collections if c["at"] >= run_began]
    if ran:
        out.append(f"  garbage collections of 1 ms or more: {len(ran)}, longest "
                   f"{1000 * max(c['s'] for c in ran):.0f} ms, generation 2: "
                   f"{sum(1 for c in ran if c['gc'] == 2)}")
    return out
