"""What the continuous worker needs from storage: a port, and the records it passes.

The SQL adapter (`auditor.store.continuous_sql`) implements `WorkerStore`; the worker
sees only this protocol, so it can run over any store that keeps events in id order
and writes findings idempotently with a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from auditor.domain.events import StreamEvent
from auditor.domain.findings import Finding, Violation
from auditor.domain.license import License
from auditor.domain.rules import Rule


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


class Standing(NamedTuple):
    """A finding the worker holds (open or remedied): its triggering event and status."""

    trigger: int
    status: str


@dataclass(frozen=True)
class Withdrawal:
    """A standing finding that the store's data no longer supports, by its identity."""

    license_id: int
    identity: str


@dataclass(frozen=True)
class Scope:
    """The triggers a rule re-judges after the events with ids in (after, upto] arrived.

    A trigger is in scope when `whole` is set, when it occurred at or after `since`, or
    when it shares one of `keys` (package tag, reference) with one of those events (the
    keys an `ever` prior, a reconcile or a listed tag join on, at any distance in time).
    A rule whose verdicts cannot reach across time has no `since` (`settle.admits`).
    """

    after: int
    upto: int
    since: datetime | None
    whole: bool = False
    triggers: frozenset[int] = frozenset()  # events the fast path decided on: judged too
    # The keys whose sharing with them admits a trigger (none: sharing admits nothing).
    keys: tuple[str, ...] = ("package_label", "reference")
    keys_from: datetime | None = None  # a shared key admits triggers from then on only


@dataclass(frozen=True)
class Span:
    """The events of one type in an id range: how many, their earliest and latest time."""

    count: int
    first: datetime
    last: datetime


Marks = dict[str, Span]  # event type -> its span in an id range


class WorkerStore(Protocol):
    """Reads a partition's events in id order; writes findings with the checkpoint."""

    def license_ids(self, numbers: Sequence[str]) -> dict[str, int]:
        """Return the ids of the given license numbers."""
        ...

    def read_events(self, license_ids: Sequence[int], after: int,
                    limit: int) -> list[tuple[int, StreamEvent]]:
        """Return up to limit events of the licenses with id > after, in id order."""
        ...

    def commit(self, found: Sequence[Written | Withdrawal],
               checkpoint: Checkpoint | None) -> int:
        """Write new findings and status changes with the checkpoint, in one transaction."""
        ...

    def checkpoint(self, partition: str) -> Checkpoint | None:
        """Return the partition's last checkpoint, or None before its first commit."""
        ...

    def refresh_statistics(self) -> None:
        """Give the query planner statistics of the events, once, if it has none."""
        ...

    def last_event_id(self, license_ids: Sequence[int]) -> int:
        """Return the highest event id of the licenses (0 when they have none)."""
        ...

    def marks(self, license_id: int, after: int, upto: int) -> Marks:
        """Return, per event type, the span of the events with ids in (after, upto]."""
        ...

    def judge(self, license_id: int, license: License, rule: Rule, cutoff: datetime,
              scope: Scope) -> tuple[list[Violation], set[int]]:
        """Judge the rule's triggers in scope from the store as of cutoff (the batch
        compilers): its violations and the triggers whose deadline is still to come."""
        ...

    def standing(self, license_id: int, rule_id: str, scope: Scope) -> dict[str, Standing]:
        """Return the rule's standing findings (open or remedied) whose trigger is in
        scope: identity -> its triggering event id and status."""
        ...
