"""An in-memory EventStore: the test double for the storage port, kept beside the port."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from auditor.domain.dedupe import classify
from auditor.domain.errors import Conflict, NotFound, UnknownLicense
from auditor.domain.events import Event, EventType
from auditor.domain.findings import Evaluation, Finding
from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.services.ports import Appended, Batch, Finish, ImportSummary


class InMemoryAuditRuns:
    """Audit runs in a dictionary."""

    def __init__(self) -> None:
        self.reports: dict[str, dict[str, Any]] = {}

    def save(self, report: dict[str, Any], found: Sequence[Finding],
             created_at: datetime) -> None:
        """Store a run's report."""
        self.reports[report["run_id"]] = copy.deepcopy(report)

    def list(self, license_number: str) -> list[dict[str, Any]]:
        """Return a license's runs, newest first, like the SQL store."""
        return [r for r in reversed(self.reports.values()) if r["license"] == license_number]

    def get(self, run_id: str) -> dict[str, Any]:
        """Return a run's report; NotFound if there is none."""
        if run_id not in self.reports:
            raise NotFound(f"no audit run {run_id!r}")
        return copy.deepcopy(self.reports[run_id])


class InMemoryEventStore:
    """Holds licenses, imports and events in dictionaries; same semantics as the SQL store.

    Rules are evaluated in SQL, so `evaluate` is the one thing this fake cannot do.
    """

    def __init__(self) -> None:
        self.licenses: dict[str, License] = {}
        self.imports: dict[int, dict[str, object]] = {}
        self.events: dict[str, list[Event]] = {}
        self.runs = InMemoryAuditRuns()

    def refresh_statistics(self) -> None:
        """Nothing to do in memory."""

    def evaluate(self, license_number: str, rule: Rule, start: datetime,
                 end: datetime) -> Evaluation:
        """Refuse: the batch audit runs in SQL; use the SQL store on SQLite."""
        raise NotImplementedError("rule evaluation needs the SQL store (SQLite works in tests)")

    @contextmanager
    def audit_engine(self, license_number: str, engine: str = "sql") -> Iterator[Any]:
        """Yield this store: it has no other engine (and evaluates nothing)."""
        yield self

    def add_license(self, license: License) -> None:
        """Store a new license; Conflict if its number exists."""
        if license.number in self.licenses:
            raise Conflict(f"license {license.number} already exists")
        self.licenses[license.number] = license
        self.events[license.number] = []

    def get_license(self, number: str) -> License:
        """Return the license with that number; UnknownLicense if none."""
        try:
            return self.licenses[number]
        except KeyError:
            raise UnknownLicense(number) from None

    def list_licenses(self) -> list[License]:
        """Return every license, ordered by number."""
        return [self.licenses[n] for n in sorted(self.licenses)]

    def start_import(self, license_number: str, fmt: str, source: str, sha256: str,
                     started_at: datetime) -> int:
        """Record that an import began and return its id."""
        self.get_license(license_number)
        import_id = len(self.imports) + 1
        self.imports[import_id] = {"format": fmt, "source": source, "status": "running"}
        return import_id

    def append(self, batch: Batch, finish: Finish | None = None) -> Appended:
        """Store the new events of a batch and say what became of each record."""
        stored = self.events[self.get_license(batch.license_number).number]
        import_id = batch.import_id
        if import_id is None:
            assert batch.opening is not None, "a batch needs an import id or an opening"
            import_id = self.start_import(batch.license_number, batch.opening.format,
                                          batch.opening.source, batch.opening.sha256,
                                          batch.opening.started_at)
        outcomes, new = classify(batch.records, {e.natural_key: e.fingerprint for e in stored})
        stored.extend(new)
        appended = Appended(outcomes, len(new), import_id)
        if finish:
            self.finish_import(finish(appended), batch.recorded_at)
        return appended

    @contextmanager
    def ingest_session(self) -> Iterator[Any]:
        """Yield this store: every append here is already visible and final."""
        yield self

    def commit(self) -> None:
        """Nothing to commit in memory."""

    def finish_import(self, summary: ImportSummary, finished_at: datetime) -> None:
        """Record an import's final counts."""
        assert summary.import_id is not None
        self.imports[summary.import_id].update(status="completed", summary=summary)

    def event_counts(self, license_number: str, start: datetime | None = None,
                     end: datetime | None = None) -> dict[str, int]:
        """Return the number of stored events of each type for a license (in [start, end))."""
        counts: dict[str, int] = {}
        for event in self.events[self.get_license(license_number).number]:
            if (start and event.occurred_at < start) or (end and event.occurred_at >= end):
                continue
            counts[event.type.value] = counts.get(event.type.value, 0) + 1
        return counts

    def earliest(self, license_number: str, event_type: EventType,
                 reference: str) -> datetime | None:
        """Return when the first event of a type with that reference occurred, if any."""
        times = [e.occurred_at for e in self.events[license_number]
                 if e.type == event_type and e.reference == reference]
        return min(times, default=None)
