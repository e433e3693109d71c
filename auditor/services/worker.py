"""The continuous-evaluation worker: one single-threaded loop per partition of licenses.

It reads new events in id order, runs them through each license's evaluator behind
the watermark, and commits the findings and its checkpoint in one transaction. On
start it replays the partition's events from the beginning to rebuild the engine's
working memory (the engine keeps no history of its own); findings already written are
recognised by their identity and not written again, so a crash at any point loses and
duplicates nothing. A pack whose content hash changed is picked up between batches
by building fresh evaluators warmed from the event store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from auditor.continuous.engine import RulesEngine
from auditor.continuous.evaluator import Decision, LicenseEvaluator
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.services.worker_ports import Checkpoint, WorkerStore, Written

BATCH = 5_000
MAX_BACKLOG = 500_000  # events held in event-time order while catching up, at most


@dataclass
class Progress:
    """What the worker has done: for the progress display and the checkpoint."""

    last_event_id: int = 0
    events_processed: int = 0
    findings_written: int = 0
    watermark: datetime | None = None
    working_memory: int = 0
    late: int = 0  # events that arrived behind the watermark and ran out of order


@dataclass
class Worker:
    """Runs a pack continuously over a partition's licenses, committing as it goes."""

    store: WorkerStore
    licenses: Sequence[License]
    load_pack: Callable[[License], Pack]
    partition: str = "default"
    lateness: timedelta = timedelta(minutes=5)
    batch: int = BATCH
    progress: Progress = field(default_factory=Progress)

    def __post_init__(self) -> None:
        """Resolve license ids and build an evaluator per license."""
        self.ids = self.store.license_ids([lic.number for lic in self.licenses])
        missing = [lic.number for lic in self.licenses if lic.number not in self.ids]
        if missing:
            raise ValueError(f"unknown licenses: {', '.join(missing)}")
        self._build()

    def _build(self) -> None:
        self.engine = RulesEngine()
        self.packs = {lic.number: self.load_pack(lic) for lic in self.licenses}
        self.hashes = {id(p): p.content_hash for p in self.packs.values()}  # costly to redo
        self.evaluators = {self.ids[lic.number]: LicenseEvaluator(
            self.packs[lic.number], lic, self.engine, self.lateness) for lic in self.licenses}
        self.progress = Progress(findings_written=self.progress.findings_written)

    @property
    def pack_hash(self) -> str:
        """Return the content hashes of the packs in use, joined (one per license)."""
        return ",".join(sorted({h[:16] for h in self.hashes.values()}))

    def step(self) -> int:
        """Process one batch of new events; return how many were read."""
        rows = self.store.read_events(list(self.evaluators), self.progress.last_event_id,
                                      self.batch)
        if not rows:
            return 0
        by_license: dict[int, list[StreamEvent]] = {}
        for license_id, event in rows:
            by_license.setdefault(license_id, []).append(event)
        # A full batch means a backlog: hold it until caught up, so that events imported
        # out of time order (one file type after another) still run in time order.
        caught_up = len(rows) < self.batch or sum(
            ev.buffered() for ev in self.evaluators.values()) > MAX_BACKLOG
        written = [w for license_id, batch in by_license.items()
                   for w in self._written(license_id,
                                          self.evaluators[license_id].feed(batch, caught_up))]
        if caught_up:
            written += [w for license_id, ev in self.evaluators.items()
                        if license_id not in by_license
                        for w in self._written(license_id, ev.feed([], True))]
        self.progress.last_event_id = rows[-1][1].id
        self.progress.events_processed += len(rows)
        self._commit(written)
        return len(rows)

    def flush(self, until: datetime) -> None:
        """Move every license's watermark to `until` (a cut-off) and commit what it decides."""
        written = [w for license_id, ev in self.evaluators.items()
                   for w in self._written(license_id, ev.advance(until))]
        self._commit(written)

    def _written(self, license_id: int, decisions: list[Decision]) -> list[Written]:
        pack = self.evaluators[license_id].pack
        return [Written(license_id, d.status, d.finding, pack.id, self.hashes[id(pack)],
                        d.remedied_at) for d in decisions]

    def _commit(self, written: list[Written]) -> None:
        marks = [ev.watermark for ev in self.evaluators.values() if ev.watermark]
        self.progress.watermark = min(marks) if marks else None
        self.progress.working_memory = sum(ev.working_memory()
                                           for ev in self.evaluators.values())
        self.progress.late = sum(ev.late for ev in self.evaluators.values())
        self.progress.findings_written += self.store.commit(written, Checkpoint(
            self.partition, self.progress.last_event_id, self.progress.watermark,
            self.pack_hash, self.progress.events_processed, self.progress.working_memory,
            datetime.now(UTC)))

    def reload_if_changed(self) -> bool:
        """Rebuild from the event store if a license's pack changed; return whether it did.

        Ruleset names are versioned, so the new rulesets register beside the old ones;
        the replay writes only findings whose identity (rule version included) is new.
        """
        fresh = {lic.number: self.load_pack(lic) for lic in self.licenses}
        if all(fresh[n].content_hash == p.content_hash for n, p in self.packs.items()):
            return False
        self._build()
        return True

    def run(self, stop: Callable[[], bool], idle_sleep: float = 0.2,
            on_progress: Callable[[Progress], None] | None = None,
            reload_every: float = 5.0) -> None:
        """Loop until stop() says so: read, evaluate, commit; poll while idle."""
        checked = time.monotonic()
        while not stop():
            read = self.step()
            if on_progress:
                on_progress(self.progress)
            if not read:
                if time.monotonic() - checked >= reload_every:
                    self.reload_if_changed()
                    checked = time.monotonic()
                time.sleep(idle_sleep)


def run_once(worker: Worker, until: datetime | None = None,
             on_step: Callable[[Progress], None] | None = None) -> Progress:
    """Process every event stored now (and flush to `until` if given); return progress."""
    while worker.step():
        if on_step:
            on_step(worker.progress)
    if until is not None:
        worker.flush(until)
    return worker.progress
