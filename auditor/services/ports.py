"""The port the services need from storage, and the records they exchange through it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from auditor.domain.dedupe import Outcome
from auditor.domain.events import Event, EventType
from auditor.domain.findings import Evaluation, Finding
from auditor.domain.license import License
from auditor.domain.rules import Rule


@dataclass(frozen=True)
class Rejection:
    """One record that was not imported: where it was and why."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"


@dataclass
class ImportSummary:
    """What one import did. Always: rows_read == accepted + duplicates + rejected."""

    source: str
    format: str
    license: str
    import_id: int | None = None
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    events_added: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    ignored_fields: set[str] = field(default_factory=set)

    def balanced(self) -> bool:
        """Return whether every row read is accounted for."""
        return self.rows_read == self.accepted + self.duplicates + self.rejected


@dataclass(frozen=True)
class ImportOpening:
    """What the imports table records when an import begins."""

    format: str
    source: str
    sha256: str
    started_at: datetime


@dataclass(frozen=True)
class Batch:
    """Records of one import offered to the store together; stored all or nothing.

    The first batch of an import may carry its opening instead of an id: the import is
    then recorded in the same transaction (a small file costs one commit, not three).
    """

    license_number: str
    import_id: int | None
    source: str  # the import format the events came from
    records: Sequence[Sequence[Event]]
    recorded_at: datetime
    opening: ImportOpening | None = None


@dataclass(frozen=True)
class Appended:
    """What the store did with a batch: each record's outcome and the events it added."""

    outcomes: list[Outcome]
    events_added: int
    import_id: int | None = None


Finish = Callable[[Appended], ImportSummary]


class BatchWriter(Protocol):
    """Where an ingest appends its batches: the store itself, or a session of grouped commits."""

    def append(self, batch: Batch, finish: Finish | None = None) -> Appended:
        """Store a batch as EventStore.append does, perhaps in a transaction shared with others."""

    def commit(self) -> None:
        """Make everything appended so far visible to other connections."""


class AuditRuns(Protocol):
    """Storage of audit runs: written once, read back unchanged."""

    def save(self, report: dict[str, Any], found: Sequence[Finding],
             created_at: datetime) -> None:
        """Store a run's report and findings."""

    def list(self, license_number: str) -> list[dict[str, Any]]:
        """Return a license's runs, newest first."""

    def get(self, run_id: str) -> dict[str, Any]:
        """Return a run's report as produced; NotFound if there is none."""


class RuleEvaluator(Protocol):
    """Anything that evaluates rules over a license's events (the store, or a copy of it)."""

    def evaluate(self, license_number: str, rule: Rule, start: datetime,
                 end: datetime) -> Evaluation:
        """Evaluate a rule over a license's events in [start, end), judged as of end."""


# Which engine a batch audit runs its rules on: the store of record ("sql", the default),
# or an analytical copy of the license's events ("duckdb"). The findings are the same.
AUDIT_ENGINES = ("sql", "duckdb")


class EventStore(Protocol):
    """Durable, append-only storage of licenses, imports and events, and audit runs."""

    @property
    def runs(self) -> AuditRuns:
        """Return where audit runs are kept."""

    def add_license(self, license: License) -> None:
        """Store a new license; Conflict if its number exists."""

    def get_license(self, number: str) -> License:
        """Return the license with that number; UnknownLicense if none."""

    def list_licenses(self) -> list[License]:
        """Return every license, ordered by number."""

    def start_import(self, license_number: str, fmt: str, source: str, sha256: str,
                     started_at: datetime) -> int:
        """Record that an import began and return its id."""

    def append(self, batch: Batch, finish: Finish | None = None) -> Appended:
        """Store the new events of a batch in one transaction and say what became of each record.

        With finish, the import is also finished in that transaction with the summary
        finish returns once it has seen what became of the batch.
        """

    def finish_import(self, summary: ImportSummary, finished_at: datetime) -> None:
        """Record an import's final counts and rejections."""

    def ingest_session(self) -> AbstractContextManager[BatchWriter]:
        """Return (as a context) a writer whose appends may share transactions.

        Everything appended is committed when the context ends without an error, and
        rolled back to the last commit when it ends with one.
        """

    def event_counts(self, license_number: str, start: datetime | None = None,
                     end: datetime | None = None) -> dict[str, int]:
        """Return the number of stored events of each type for a license (that occurred
        in [start, end) when given)."""

    def refresh_statistics(self) -> None:
        """Update the statistics rule queries are planned with."""

    def evaluate(self, license_number: str, rule: Rule, start: datetime,
                 end: datetime) -> Evaluation:
        """Evaluate a rule over a license's events in [start, end), judged as of end."""

    def audit_engine(self, license_number: str,
                     engine: str = "sql") -> AbstractContextManager[RuleEvaluator]:
        """Return (as a context) where an audit of the license evaluates its rules."""

    def earliest(self, license_number: str, event_type: EventType,
                 reference: str) -> datetime | None:
        """Return when the first event of a type with that reference occurred, if any."""
