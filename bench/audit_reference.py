"""Benchmark: the batch audit against hand-written DuckDB queries of the same rules.

    .venv/bin/python bench/audit_reference.py [--days 365] [--receipts-per-day 380]
        [--runs 3] [--engines sql,duckdb] [--rules reconciliation-overdue,...]

Over a generated year of a busy store (the sample generator, ingested once into SQLite
under bench/out/), each run does, each in a child process of its own (so peak memory is
its own): the readiness audit of the California pack (`run_audit`, every rule in force)
on each engine, and the reference: the license's events copied into DuckDB, flattened,
and every rule of the pack evaluated by the hand-written queries of
`bench/reference_rules.py`. It asserts that both find the same events for every rule
and prints the medians and the ratio audit time / reference time (the target is 3 or
less), with each side's CPU seconds (the process's, every thread's), which hold better
than wall times on a shared machine. The reference's time is its queries over data
already in DuckDB (flattening included); the copy from the store of record is timed apart.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.audit import local_bounds, run_audit
from auditor.services.demo import sample_license
from auditor.store.analytical import AnalyticalCopy

sys.path.insert(0, str(Path(__file__).parent))
from audit import ensure_ingested, settings_for  # noqa: E402 - sibling benchmark's helpers
from ingest import sample_store  # noqa: E402
from reference_rules import FLATTEN, QUERIES  # noqa: E402


def period(folder: Path) -> tuple[date, date]:
    """Return the first and last day of the generated store."""
    truth = json.loads((folder / "ground-truth.json").read_text())
    start = date.fromisoformat(truth["spec"]["start"])
    return start, start + timedelta(days=truth["spec"]["days"] - 1)


def peak_mb() -> float:
    """Return this process's peak resident memory in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chosen(rules: str) -> set[str] | None:
    """Return the rule ids `--rules` names (None: every rule)."""
    return set(rules.split(",")) if rules else None


def audit_child(url: str, folder: Path, engine: str, rules: str) -> dict:
    """Run the readiness audit once on an engine; return its time and what it found."""
    store = open_store(Settings(database_url=url))
    license = sample_license(folder)
    start, end = period(folder)
    pack = load_pack(default_rules_dir(), license.state)
    if chosen(rules):
        pack = replace(pack, rules=tuple(r for r in pack.rules if r.id in chosen(rules)))
    began, cpu = time.perf_counter(), time.process_time()
    report = run_audit(store, pack, license.number, start, end, engine=engine)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    found: dict[str, list[int]] = {rule.id: [] for rule in report.rules}
    for finding in report.findings:
        found[finding.rule_id].append(finding.evidence[0])
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb(), "found": found,
            "per_rule": report.seconds}


def reference_child(url: str, folder: Path, rules: str) -> dict:
    """Copy the events into DuckDB, then run every hand-written query; time both apart."""
    store = open_store(Settings(database_url=url))
    license = sample_license(folder)
    opens, closes = local_bounds(license, *period(folder))
    began = time.perf_counter()
    copy = AnalyticalCopy(store.engine, 1, license)  # the generated store holds one license
    copied = time.perf_counter() - began
    values = {"opens": opens, "closes": closes, "floor": list(license.sales_floor_locations),
              "receiving": license.vault_locations[0]}
    try:
        # The yardstick is not held to the audit's memory limit: it may use what it needs.
        copy.database.execute("SET memory_limit = '8GB'")
        began, cpu = time.perf_counter(), time.process_time()
        copy.database.execute(FLATTEN)
        found, per_rule = {}, {}
        for rule, sql in QUERIES.items():
            if chosen(rules) and rule not in chosen(rules):
                continue
            ruled = time.perf_counter()
            used = {name: value for name, value in values.items() if f"${name}" in sql}
            found[rule] = [row[0] for row in copy.database.execute(sql, used).fetchall()]
            per_rule[rule] = time.perf_counter() - ruled
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        copy.close()
    return {"seconds": seconds, "cpu": cpu, "copy_seconds": copied, "peak_mb": peak_mb(),
            "found": found, "per_rule": per_rule}


def run_child(*args: str) -> dict:
    """Run this file as a child with args and return the JSON it prints."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def compare(audit: dict, reference: dict, engine: str) -> None:
    """Fail, naming the rule and the events, when the audit and the reference disagree."""
    assert set(audit["found"]) == set(reference["found"]), (
        f"rules the audit ran but no reference query covers, or the other way: "
        f"{sorted(set(audit['found']) ^ set(reference['found']))}")
    for rule, ids in audit["found"].items():
        mine, theirs = set(ids), set(reference["found"][rule])
        assert mine == theirs, (f"{engine} audit and reference disagree on {rule}: audit only "
                                f"{sorted(mine - theirs)[:10]}, reference only "
                                f"{sorted(theirs - mine)[:10]}")


def main() -> None:
    """Parse arguments, run audits and references alternately, check and print the ratio."""
    if sys.argv[1:2] == ["--child"]:
        kind, url, folder, rules = sys.argv[2], sys.argv[3], Path(sys.argv[4]), sys.argv[5]
        result = reference_child(url, folder, rules) if kind == "reference" \
            else audit_child(url, folder, kind, rules)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=380)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sql,duckdb")
    parser.add_argument("--rules", default="", help="only these rule ids (comma-separated)")
    args = parser.parse_args()
    folder = sample_store(args.days, args.receipts_per_day)
    settings = settings_for("sqlite", folder, "")
    ensure_ingested(settings, folder)
    engines = args.engines.split(",")
    runs: dict[str, list[dict]] = {name: [] for name in ["reference", *engines]}
    for number in range(1, args.runs + 1):
        for name in runs:
            result = run_child(name, settings.database_url, str(folder), args.rules)
            runs[name].append(result)
            findings = sum(len(ids) for ids in result["found"].values())
            extra = f", copy {result['copy_seconds']:.1f} s" if name == "reference" else ""
            print(f"run {number} {name}: {result['seconds']:.1f} s ({result['cpu']:.1f} s CPU)"
                  f"{extra}, {findings} findings, "
                  f"peak {result['peak_mb']:.0f} MB", flush=True)
        for engine in engines:
            compare(runs[engine][-1], runs["reference"][-1], engine)
    reference = statistics.median(r["seconds"] for r in runs["reference"])
    reference_cpu = statistics.median(r["cpu"] for r in runs["reference"])
    copy = statistics.median(r["copy_seconds"] for r in runs["reference"])
    ruled = len(runs["reference"][-1]["found"])
    print(f"reference (hand-written DuckDB, {ruled} rules): median {reference:.2f} s; "
          f"the copy into DuckDB apart: median {copy:.1f} s")
    for engine in engines:
        median = statistics.median(r["seconds"] for r in runs[engine])
        cpu = statistics.median(r["cpu"] for r in runs[engine])
        slowest = sorted(runs[engine][-1]["per_rule"].items(), key=lambda kv: -kv[1])[:4]
        print(f"audit on {engine}: median {median:.1f} s, peak "
              f"{statistics.median(r['peak_mb'] for r in runs[engine]):.0f} MB; ratio "
              f"{median / reference:.1f}x the reference ({median / (reference + copy):.1f}x "
              f"with the copy; CPU {cpu:.1f} s, {cpu / reference_cpu:.1f}x the reference's "
              f"{reference_cpu:.1f} s); slowest: "
              + ", ".join(f"{rule} {seconds:.1f} s" for rule, seconds in slowest))
    print("findings identical to the reference on every rule, every run")


if __name__ == "__main__":
    main()
