"""What the continuous worker needs from storage: a port, and the records it passes.

The SQL adapter (`auditor.store.continuous_sql`) implements `WorkerStore`; the worker
sees only this protocol, so it can run over any store that keeps events in id order
and writes findings idempotently with a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from auditor.domain.events import StreamEvent
from auditor.domain.findings import Finding


@dataclass(frozen=True)
class Checkpoint:
    """Where a partition's worker got to: last event id read, watermark, progress."""

    partition: str
    last_event_id: int
    watermark: datetime | None
    pack_hash: str
    events_processed: int
    working_memory: int
    updated_at: datetime


@dataclass(frozen=True)
class Written:
    """A finding to write: its license, the finding, open or withdrawn, when detected."""

    license_id: int
    status: str
    finding: Finding
    pack_id: str
    pack_hash: str
    remedied_at: datetime | None = None


class WorkerStore(Protocol):
    """Reads a partition's events in id order; writes findings with the checkpoint."""

    def license_ids(self, numbers: Sequence[str]) -> dict[str, int]:
        """Return the ids of the given license numbers."""
        ...

    def read_events(self, license_ids: Sequence[int], after: int,
                    limit: int) -> list[tuple[int, StreamEvent]]:
        """Return up to limit events of the licenses with id > after, in id order."""
        ...

    def commit(self, found: Sequence[Written], checkpoint: Checkpoint) -> int:
        """Write new findings and status changes with the checkpoint, in one transaction."""
        ...
