"""Benchmark: peak memory of streaming one large METRC receipts file into SQLite.

    .venv/bin/python bench/stream_memory.py [--size-mb 1024] [--runs 1] [--parse-only]

Writes (once) a v2 `Data` envelope of sales receipts, three transactions each, shaped
like GET /sales/v2/receipts/active, then ingests it from its path in a child process
(the CLI's path) into a fresh SQLite database and prints the child's peak RSS. With
--parse-only the child only reads the records (both passes), storing nothing.
Target: peak RSS under 500 MB whatever the file size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).parent / "out"
LICENSE = "C10-0000123-LIC"
START = datetime(2026, 1, 1, 9, 0)


def receipt(n: int) -> dict[str, object]:
    """Return the n-th receipt, with three lines, as METRC's response shapes it."""
    sold = START + timedelta(seconds=45 * n)
    lines = [{"PackageId": 1000 + (n + i) % 400,
              "PackageLabel": f"1A4FF01000000220{(n + i) % 400:08d}",
              "ProductName": "Blue Dream 3.5g", "ProductCategoryName": "Flower",
              "ItemStrainName": "Blue Dream", "QuantitySold": 1.0,
              "UnitOfMeasureName": "Each", "TotalPrice": 35.0,
              "SalesDeliveryState": None, "ArchivedDate": None,
              "RecordedDateTime": (sold + timedelta(minutes=5)).isoformat() + "+00:00",
              "RecordedByUserName": "ana", "LastModified": sold.isoformat() + "+00:00"}
             for i in range(3)]
    return {"Id": n + 1, "ReceiptNumber": f"0{n + 1:09d}", "ExternalReceiptNumber": f"POS-{n}",
            "SalesDateTime": sold.isoformat(timespec="milliseconds"),
            "SalesCustomerType": "Consumer", "PatientLicenseNumber": None,
            "CaregiverLicenseNumber": None, "IdentificationMethod": None,
            "TotalPackages": 3, "TotalPrice": 105.0, "Transactions": lines, "IsFinal": True,
            "ArchivedDate": None,
            "RecordedDateTime": (sold + timedelta(minutes=5)).isoformat() + "+00:00",
            "RecordedByUserName": "ana", "LastModified": sold.isoformat() + "+00:00"}


def receipts_file(size_mb: int) -> Path:
    """Write (once) and return a receipts file of about size_mb megabytes."""
    path = OUT / f"receipts-{size_mb}mb.json"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("w") as out:
        out.write('{\n  "Data": [\n')
        n = 0
        while out.tell() < size_mb << 20:
            out.write(("," if n else "") + json.dumps(receipt(n), indent=2) + "\n")
            n += 1
        out.write(f'  ],\n  "Total": {n},\n  "Page": 1,\n  "TotalPages": 1\n}}\n')
    partial.rename(path)
    return path


def child(path: Path, parse_only: bool) -> None:
    """Ingest (or only read) the file and print the figures as JSON."""
    from auditor.bootstrap import open_store
    from auditor.config import Settings
    from auditor.domain.license import License
    from auditor.importers.sources import json_records
    from auditor.services.ingest import ingest_path

    started = time.perf_counter()
    if parse_only:
        records = sum(1 for _ in json_records(path))
        events = 0
    else:
        db = OUT / f"stream-{uuid.uuid4().hex[:8]}.db"
        try:
            store = open_store(Settings(database_url=f"sqlite:///{db}"), migrate=True)
            store.add_license(License(LICENSE, "CA", "America/Los_Angeles", ("Sales Floor",)))
            summary = ingest_path(store, LICENSE, "metrc-receipts", path)
            records, events = summary.rows_read, summary.events_added
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    print(json.dumps({"records": records, "events": events,
                      "seconds": time.perf_counter() - started,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    """Parse arguments, run the children and print each run and the medians."""
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), sys.argv[3] == "parse")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--parse-only", action="store_true")
    args = parser.parse_args()
    path = receipts_file(args.size_mb)
    mode = "parse" if args.parse_only else "ingest"
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--child", str(path), mode],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.splitlines()[-1]))
        run = runs[-1]
        print(f"{mode} {path.stat().st_size / 2**20:,.0f} MB: {run['records']:,} receipts, "
              f"{run['events']:,} events in {run['seconds']:.0f} s, "
              f"peak RSS {run['peak_rss_mb']:.0f} MB")
    print(f"{mode} median peak RSS {statistics.median(r['peak_rss_mb'] for r in runs):.0f} MB, "
          f"median {statistics.median(r['seconds'] for r in runs):.0f} s ({args.runs} runs, "
          f"{datetime.now(UTC):%Y-%m-%d})")


if __name__ == "__main__":
    main()
