"""Check: the state rules on a clean year of the sample generator find nothing.

    .venv/bin/python bench/state_year.py [--days 365] [--receipts-per-day 40] [--out DIR]

A package's state comes from all the evidence (accepted manifest lines, METRC location
changes, package lists), so a sale before METRC's next package list is judged. On a
store generated without planted violations that must add no finding and leave no sale
undetermined. Prints each state rule's findings, undetermined sales and time; exits 1 if
any rule found something.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.rules import Template
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import load_sample_store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--receipts-per-day", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("bench/out/state-year"))
    args = parser.parse_args()
    spec = StoreSpec(days=args.days, receipts_per_day=args.receipts_per_day, plant=False)
    args.out.mkdir(parents=True, exist_ok=True)
    database = args.out / f"clean-{args.days}d-{args.receipts_per_day}r.db"
    store = open_store(Settings(database_url=f"sqlite:///{database}"), migrate=True)
    if not store.list_licenses():
        generate_store(args.out / "store", spec)
        load_sample_store(store, args.out / "store")
    store.refresh_statistics()
    license = store.get_license(spec.license_number)
    bounds = local_bounds(license, spec.start, spec.start + timedelta(days=args.days - 1))
    found = 0
    for rule in load_pack(default_rules_dir(), license.state).rules:
        if rule.template is not Template.STATE_AT_TIME:
            continue
        began = time.perf_counter()
        result = store.evaluate(license.number, rule, *bounds)
        found += len(result.violations)
        print(f"{rule.id} v{rule.version}: {len(result.violations)} findings, "
              f"{len(result.undetermined)} undetermined, {time.perf_counter() - began:.1f} s")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
