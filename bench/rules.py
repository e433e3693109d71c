"""Benchmark: `GET /rules` and `GET /rules?state=CO` through the Flask test client.

    .venv/bin/python bench/rules.py [--calls 50]

A fresh SQLite database with two published versions of tag-invalid; prints the mean
time per call after one warm-up call (the pack in force is cached per content).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.config import Settings  # noqa: E402
from tests.api.conftest import make_app  # noqa: E402


def main() -> None:
    """Publish two versions, then time the rule listings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50)
    calls = parser.parse_args().calls
    folder = Path(tempfile.mkdtemp(prefix="auditor-bench-rules-"))
    app, secrets = make_app(Settings(database_url=f"sqlite:///{folder / 'a.db'}"))
    client = app.test_client()
    officer = {"Authorization": f"Bearer {secrets['compliance_officer']}"}
    for version in (2, 3):
        current = client.get("/rules/tag-invalid", headers=officer)
        draft = current.json["yaml"].replace(f"version: {version - 1}", f"version: {version}", 1)
        client.put("/rules/tag-invalid", json={"yaml": draft},
                   headers={**officer, "If-Match": current.headers["ETag"]})
    for path in ("/rules", "/rules?state=CO"):
        client.get(path, headers=officer)
        started = time.perf_counter()
        for _ in range(calls):
            assert client.get(path, headers=officer).status_code == 200
        print(f"GET {path}: {(time.perf_counter() - started) / calls * 1000:.1f} ms per call "
              f"({calls} calls)")


if __name__ == "__main__":
    main()
