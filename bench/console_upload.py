"""Benchmark: one large upload through the console, as a browser sends it, and its import job.

    .venv/bin/python bench/console_upload.py [--rows 120000] [--chunk 2000]

A fresh SQLite store (bench/out/console-upload) gets a license and an associate; a POS
export of `--rows` sales (about 100 bytes a row, one row in 50 with a bad time) is
written to a file. The console is served on a local port in this process (the import
job runs on this process's job threads, as `auditor serve` does on SQLite) and curl
signs in and uploads the file as a browser's multipart form. The figures: the file's
size, the time to the job page, the time to the job's end, the rows and rejections it
reports, and this process's peak RSS before the upload and after the import, so the
growth is what the request and the job held at most (the whole file would be its size).
"""

from __future__ import annotations

import argparse
import logging
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

# Run as a script, this folder comes first on the path, and bench/api.py would shadow
# the api package: look in the checkout instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from werkzeug.serving import make_server  # noqa: E402

from api import create_app  # noqa: E402
from auditor.bootstrap import open_store  # noqa: E402
from auditor.config import Settings  # noqa: E402
from auditor.domain.license import License  # noqa: E402
from auditor.services.users import create_user  # noqa: E402
from auditor.store.users_sql import SqlUsers  # noqa: E402

OUT = Path(__file__).parent / "out" / "console-upload"
LICENSE = License("C10-0000123-LIC", "CA", "America/Los_Angeles", ("Sales Floor",),
                  "Bench Dispensary", ("Vault",))
EMAIL, PASSWORD = "associate@bench.example", "bench password 1"
HEADER = ("receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
          "unit,unit_price,total_price,customer_type,customer_id,employee,voided\n")


def write_export(path: Path, rows: int) -> None:
    """Write a POS export of rows sales; every 50th has a time that cannot be read."""
    with path.open("w") as out:
        out.write(HEADER)
        for n in range(rows):
            when = "not a time" if n % 50 == 49 else \
                f"2026-01-{1 + n % 28:02d}T{8 + n % 12:02d}:{n % 60:02d}:00-08:00"
            out.write(f"R{n},1,{when},1A4FF01000000220{n % 100000:08d},SKU{n % 300},"
                      f"Product {n % 300},Edible,1,Each,10.00,10.00,Consumer,C{n % 5000},"
                      "ann,false\n")


def peak_mb() -> float:
    """Return this process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def curl(jar: Path, *args: str) -> str:
    """Run curl with the session's cookie jar; return what it printed."""
    done = subprocess.run(["curl", "-sS", "-b", str(jar), "-c", str(jar), *args],
                          check=True, capture_output=True, text=True)
    return done.stdout


def token(jar: Path, url: str) -> str:
    """Return the CSRF token of the page at url."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', curl(jar, url))
    assert found, f"no form at {url}"
    return found.group(1)


def main() -> None:
    """Upload the export once and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=120_000)  # ~13 MB: under the 16 MiB cap
    parser.add_argument("--chunk", type=int, default=2000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per poll
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    settings = Settings(database_url=f"sqlite:///{OUT / 'auditor.db'}",
                        console_cookie_secure=False, console_secret_key="bench",
                        import_chunk=args.chunk)
    store = open_store(settings, migrate=True)
    store.add_license(LICENSE)
    create_user(SqlUsers(store.engine), store, EMAIL, PASSWORD, "associate", [LICENSE.number])
    store.engine.dispose()
    export = OUT / "till.csv"
    write_export(export, args.rows)
    app = create_app({"AUDITOR_SETTINGS": settings})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base, jar = f"http://127.0.0.1:{server.server_port}/console", OUT / "cookies"
    curl(jar, "-o", "/dev/null", "-d", f"csrf_token={token(jar, base + '/sign-in')}",
         "-d", f"email={EMAIL}", "-d", f"password={PASSWORD}", base + "/sign-in")
    imports = f"{base}/licenses/{LICENSE.number}/imports"
    form = token(jar, imports)
    before = peak_mb()
    began = time.perf_counter()
    answer = curl(jar, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-F",
                  f"csrf_token={form}", "-F", "format=pos-sales", "-F",
                  f"file=@{export};type=text/csv", imports)
    status, _, job_page = answer.partition(" ")
    assert status == "303", f"the upload was answered {status}"
    handed = time.perf_counter() - began
    while "Done." not in (page := curl(jar, job_page)) and "failed:" not in page:
        time.sleep(0.2)
    finished = time.perf_counter() - began
    counts = re.search(r"till\.csv: ([^<]+)</h2>", page)
    print(f"file: {export.stat().st_size / 1e6:.1f} MB, {args.rows} rows")
    print(f"upload handed to its job in {handed:.2f} s; import over after {finished:.1f} s")
    print(f"job says: {counts.group(1) if counts else page[-400:]}")
    print(f"peak RSS of the serving process: {before:.0f} MB before the upload, "
          f"{peak_mb():.0f} MB after the import (+{peak_mb() - before:.0f} MB)")
    server.shutdown()


if __name__ == "__main__":
    main()
