"""The continuous-evaluation worker: one single-threaded loop per partition of licenses.

Each step takes the events stored since its checkpoint and *settles* them
(`auditor.services.settle`): the batch compilers re-judge, from the store, every
trigger those events can affect, and the standing findings are made to agree, so the
order in which sources arrive, how late they are and where a crash falls cannot change
where the findings end. The findings and the checkpoint commit in one transaction; a
restart resumes from the checkpoint (nothing is replayed into memory). Rules that are
re-judged over the whole history (`SLOW`) settle last: the other rules' findings commit
before them, the checkpoint with them.

durable-rules is the fast path: a worker that has read its partition from the first
event, and finds a small batch of new events (caught up, in order), runs them through
the engine first and commits what it decides at once; the settle that follows in the
same step confirms or corrects it. A backlog, a restart or a pack change leaves the
engine cold, and the worker then answers through the settle alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from auditor.continuous.engine import RulesEngine
from auditor.continuous.evaluator import REFERENCE_TYPES, Decision, LicenseEvaluator
from auditor.domain.license import License
from auditor.domain.rules import Pack, Rule, Template
from auditor.services.settle import Clock, Settled, is_pending, remedy_types, scope_of, settle
from auditor.services.worker_ports import Checkpoint, Scope, Withdrawal, WorkerStore, Written

BATCH = 5_000
# How long an idle worker waits between looks for new events: a look is one indexed
# max(id), and the wait is added, half of it on average, to every file's latency.
IDLE_SLEEP = 0.05
REHEARSED = 1_000  # the last stored events a start-up rehearses a step over (a file's worth)
# Templates re-judged over the whole history whatever the scope (a full count's coverage
# needs every tag's holdings: seconds on a year). A step commits the other rules'
# findings first, so a file's findings do not wait for them.
SLOW = (Template.FULL_COUNT_INTERVAL,)


@dataclass
class Progress:
    """What the worker has done: for the progress display and the checkpoint."""

    last_event_id: int = 0
    events_processed: int = 0
    findings_written: int = 0
    watermark: datetime | None = None  # the event-time clock: latest activity stored
    working_memory: int = 0
    pending: int = 0  # findings held back while a source that could refute them is behind
    withdrawn: int = 0  # standing findings later data refuted


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
    after_commit: Callable[[], object] | None = None  # e.g. send the alerts now due

    def __post_init__(self) -> None:
        """Resolve license ids, build the evaluators and resume from the checkpoint."""
        self.ids = self.store.license_ids([lic.number for lic in self.licenses])
        missing = [lic.number for lic in self.licenses if lic.number not in self.ids]
        if missing:
            raise ValueError(f"unknown licenses: {', '.join(missing)}")
        self.by_id = {self.ids[lic.number]: lic for lic in self.licenses}
        self._build()
        saved = self.store.checkpoint(self.partition)
        if saved is not None:
            self.progress.last_event_id = saved.last_event_id
            self.progress.events_processed = saved.events_processed
            self.resettle = saved.pack_hash != self.pack_hash
        self.clocks = {lid: Clock().advanced(self.store.marks(
            lid, 0, self.progress.last_event_id)) for lid in self.by_id}
        # The engine knows only what it was fed: it is trusted from the first event on.
        self.warm = self.progress.last_event_id == 0

    def _build(self) -> None:
        self.engine = RulesEngine()
        self.packs = {lic.number: self.load_pack(lic) for lic in self.licenses}
        self.hashes = {id(p): p.content_hash for p in self.packs.values()}  # costly to redo
        self.evaluators = {self.ids[lic.number]: LicenseEvaluator(
            self.packs[lic.number], lic, self.engine, self.lateness) for lic in self.licenses}
        self.resettle = False  # set when every standing finding must be re-judged
        self.warm = False

    @property
    def pack_hash(self) -> str:
        """Return the content hashes of the packs in use, joined (one per license)."""
        return ",".join(sorted({h[:16] for h in self.hashes.values()}))

    def rules(self, license_id: int) -> list[Rule]:
        """Return the rules of the license's pack that apply to its state."""
        evaluator = self.evaluators[license_id]
        return [r for r in evaluator.pack.rules if r.applies_to(evaluator.license.state)]

    def reads(self, license_id: int) -> dict[str, frozenset[str] | None]:
        """Return, per rule, the event types its verdicts depend on (None: any type),
        its corrective event's among them: one arriving remedies a standing finding."""
        return {p.rule.id: None if p.reads is None else p.reads | remedy_types(p.rule)
                for p in self.evaluators[license_id].programs}

    def step(self) -> int:
        """Settle the events stored since the checkpoint; return how many there were."""
        after = self.progress.last_event_id
        upto = self.store.last_event_id(list(self.by_id))
        if upto <= after and not self.resettle:
            return 0
        self.store.refresh_statistics()
        arrived = {lid: self.store.marks(lid, after, upto) for lid in self.by_id}
        count = sum(s.count for marks in arrived.values() for s in marks.values())
        clocks = {lid: self.clocks[lid].advanced(arrived[lid]) for lid in self.by_id}
        decided: dict[int, frozenset[int]] = {}
        if self.warm and count <= self.batch:
            decided = self._fast_path(after, upto, clocks)
        else:
            self._cool()
        scopes = {lid: {r.id: scope_of(r, after, upto, arrived[lid], self.clocks[lid], None,
                                       self.resettle, decided.get(lid, frozenset()),
                                       self.reads(lid).get(r.id))
                        for r in self.rules(lid)} for lid in self.by_id}
        quick, slow = self._lanes(scopes)
        done = self._settle(quick, clocks)
        if any(slow.values()):
            # The quick rules' findings commit now, without the checkpoint: a crash before
            # the slow lane's commit re-judges the step, and a settle rewrites nothing
            # already standing.
            self._commit(done.written, checkpoint=False)
            later = self._settle(slow, clocks)
            done = Settled(later.written, done.pending + later.pending)
        self.clocks, self.resettle = clocks, False
        self.progress.last_event_id = upto
        self.progress.events_processed += count
        self.progress.pending = done.pending
        self._commit(done.written, checkpoint=True)
        return max(count, 1)

    def _lanes(self, scopes: dict[int, dict[str, Scope | None]]) -> tuple[
            dict[int, dict[str, Scope | None]], dict[int, dict[str, Scope | None]]]:
        """Split each license's scopes: the rules re-judged over the whole history (SLOW),
        and the others, whose findings need not wait for them."""
        quick: dict[int, dict[str, Scope | None]] = {}
        slow: dict[int, dict[str, Scope | None]] = {}
        for lid, by_rule in scopes.items():
            templates = {r.id: r.template for r in self.rules(lid)}
            quick[lid] = {k: v for k, v in by_rule.items() if templates[k] not in SLOW}
            slow[lid] = {k: v for k, v in by_rule.items() if templates[k] in SLOW and v}
        return quick, slow

    def _settle(self, scopes: dict[int, dict[str, Scope | None]],
                clocks: dict[int, Clock]) -> Settled:
        """Settle each license's scopes; return what they decided, together."""
        total = Settled()
        for lid, license in self.by_id.items():
            pack = self.evaluators[lid].pack
            done = settle(self.store, lid, license, pack, self.hashes[id(pack)], scopes[lid],
                          clocks[lid])
            total.written += done.written
            total.pending += done.pending
        return total

    def _fast_path(self, after: int, upto: int,
                   clocks: dict[int, Clock]) -> dict[int, frozenset[int]]:
        """Run the new events through the engine; commit its verdicts now. Return, per
        license, the triggers it decided on, for the settle to judge as well."""
        written: list[Written | Withdrawal] = []
        decided: dict[int, set[int]] = {lid: set() for lid in self.by_id}
        read = after
        while read < upto:
            rows = self.store.read_events(list(self.by_id), read, self.batch)
            rows = [(lid, event) for lid, event in rows if event.id <= upto]
            if not rows:
                break
            by_license: dict[int, list] = {}
            for lid, event in rows:
                by_license.setdefault(lid, []).append(event)
            for lid, events in by_license.items():
                for decision in self.evaluators[lid].feed(events):
                    decided[lid].add(decision.finding.evidence[0])
                    if self._trusted(lid, decision, clocks[lid]):
                        written.append(self._written(lid, decision))
            read = rows[-1][1].id
        self._commit(written, checkpoint=False)
        return {lid: frozenset(ids) for lid, ids in decided.items()}

    def _trusted(self, license_id: int, decision: Decision, clock: Clock) -> bool:
        """Return whether an engine verdict may be written before the settle confirms it."""
        if decision.status != "open":
            return True
        rule = next(r for r in self.rules(license_id) if r.id == decision.finding.rule_id)
        return not is_pending(rule, decision.finding.occurred_at, clock)

    def _cool(self) -> None:
        """Leave the engine: it missed events, so its memory no longer describes the store."""
        if self.warm:
            resettle = self.resettle
            self._build()  # drops the engine's memory
            self.resettle = resettle

    def flush(self, until: datetime) -> None:
        """Close the period at `until`: every source is taken to have reported up to it."""
        after = self.progress.last_event_id
        written: list[Written | Withdrawal] = []
        for lid, license in self.by_id.items():
            scopes = {r.id: scope_of(r, after, after, {}, self.clocks[lid], until,
                                     self.resettle) for r in self.rules(lid)}
            pack = self.evaluators[lid].pack
            written += settle(self.store, lid, license, pack, self.hashes[id(pack)],
                              scopes, self.clocks[lid], closing=until).written
        self.resettle = False
        self.progress.pending = 0
        self._commit(written, checkpoint=True)

    def _written(self, license_id: int, d: Decision) -> Written:
        pack = self.evaluators[license_id].pack
        return Written(license_id, d.status, d.finding, pack.id, self.hashes[id(pack)],
                       d.remedied_at)

    def _commit(self, written: list[Written | Withdrawal], checkpoint: bool) -> None:
        marks = [m for m in (c.now() for c in self.clocks.values()) if m is not None]
        self.progress.watermark = max(marks) if marks else None
        self.progress.working_memory = sum(ev.working_memory()
                                           for ev in self.evaluators.values())
        self.progress.withdrawn += sum(isinstance(w, Withdrawal) for w in written)
        if not written and not checkpoint:
            return
        self.progress.findings_written += self.store.commit(written, Checkpoint(
            self.partition, self.progress.last_event_id, self.progress.watermark,
            self.pack_hash, self.progress.events_processed, self.progress.working_memory,
            datetime.now(UTC)) if checkpoint else None)
        if self.after_commit is not None:
            self.after_commit()

    def reload_if_changed(self) -> bool:
        """Take a changed pack in (fresh, versioned rulesets); return whether it changed.

        The engine starts cold and the next step re-judges every standing finding, so
        findings of the old rule versions are withdrawn and the new ones raised.
        """
        fresh = {lic.number: self.load_pack(lic) for lic in self.licenses}
        if all(fresh[n].content_hash == p.content_hash for n, p in self.packs.items()):
            return False
        self._build()
        self.resettle = True
        return True

    def rehearse(self, size: int = REHEARSED) -> None:
        """Settle the last `size` events already settled once more, discarding the verdicts,
        so the first file after a start costs what later ones do.

        A first step pays for compiling every rule's queries (SQLAlchemy's cache, the
        database's statements) and for reading the indexes' upper pages; paid here, before
        the worker reports ready, that is no longer the first file's latency. Reference
        lists are left out (they re-judge a rule's whole history), and every rule is
        rehearsed: with no types named as read, none is skipped as unaffected.
        """
        upto = self.progress.last_event_id
        after = max(0, upto - size)
        for lid, license in self.by_id.items():
            clock = self.clocks[lid]
            arrived = {kind: span for kind, span in self.store.marks(lid, after, upto).items()
                       if kind not in REFERENCE_TYPES}
            if not arrived or not clock.latest:
                continue
            scopes = {r.id: scope_of(r, after, upto, arrived, clock, None, False)
                      for r in self.rules(lid)}
            pack = self.evaluators[lid].pack
            settle(self.store, lid, license, pack, self.hashes[id(pack)], scopes, clock)

    def run(self, stop: Callable[[], bool], idle_sleep: float = IDLE_SLEEP,
            on_progress: Callable[[Progress], None] | None = None,
            reload_every: float = 5.0, on_ready: Callable[[], None] | None = None) -> None:
        """Loop until stop() says so: read, evaluate, commit; poll while idle.

        The start-up rehearsal (`rehearse`) runs first; on_ready is told when it is done.
        """
        self.store.refresh_statistics()
        self.rehearse()
        if on_ready:
            on_ready()
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
    """Process every event stored now (and close the period at `until` if given)."""
    while worker.step():
        if on_step:
            on_step(worker.progress)
    if until is not None:
        worker.flush(until)
    return worker.progress
