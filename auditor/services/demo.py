"""The demo: generate a sample store, ingest it, and hold the stored counts to the ground truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.domain.license import License
from auditor.services.ingest import DEFAULT_CHUNK, IngestJob, ingest_files
from auditor.services.ports import EventStore, ImportSummary

FileProgress = Callable[[int, int, str], None]


@dataclass
class DemoResult:
    """A loaded sample store: its license, ground truth, stored counts and import summaries."""

    license: License
    truth: dict[str, Any]
    counts: dict[str, int]
    summaries: list[ImportSummary] = field(default_factory=list)

    def mismatches(self) -> dict[str, tuple[int, int]]:
        """Return {event type: (expected, stored)} where the store differs from the truth."""
        expected = self.truth["event_counts"]
        types = sorted(set(expected) | set(self.counts))
        return {t: (expected.get(t, 0), self.counts.get(t, 0)) for t in types
                if expected.get(t, 0) != self.counts.get(t, 0)}


def sample_license(store_dir: Path) -> License:
    """Return the license described by a sample store's store.json."""
    info = json.loads((store_dir / "store.json").read_text())
    return License(number=info["license_number"], state=info["state"],
                   timezone=info["timezone"],
                   sales_floor_locations=tuple(info["sales_floor_locations"]),
                   vault_locations=tuple(info["vault_locations"]),
                   business_name=info.get("business_name", ""))


def load_sample_store(store: EventStore, store_dir: Path, *, chunk_size: int = DEFAULT_CHUNK,
                      on_file: FileProgress | None = None) -> list[ImportSummary]:
    """Add a sample store's license and import every file it lists, in order."""
    license = sample_license(store_dir)
    store.add_license(license)
    entries = json.loads((store_dir / "files.json").read_text())
    jobs = [IngestJob(license.number, e["format"], e["path"], path=store_dir / e["path"])
            for e in entries]

    def report(done: int) -> None:
        if on_file:
            on_file(done, len(jobs), jobs[done - 1].source)

    results = ingest_files(store, jobs, chunk_size=chunk_size, on_file=report)
    for result in results:
        if isinstance(result, Exception):
            raise result  # the generator writes only readable files
    return [r for r in results if isinstance(r, ImportSummary)]


def check_sample_store(store: EventStore, store_dir: Path,
                       summaries: list[ImportSummary]) -> DemoResult:
    """Compare what the store holds for a loaded sample store with its ground truth."""
    truth = json.loads((store_dir / "ground-truth.json").read_text())
    license = sample_license(store_dir)
    return DemoResult(license, truth, store.event_counts(license.number), summaries)
