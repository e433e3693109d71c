"""Order a license's events by event time behind a watermark and run its rules on them.

Events may arrive out of order (each source is imported on its own schedule). They
wait in a heap until the watermark (latest event time seen, less the allowed
lateness) passes them, then go through every rule in (time, id) order: first every
event of one instant is taken in as a fact, then each is judged as a trigger, so a
prior at the same instant counts as "at or before" exactly as the SQL does.
Reference lists (REFERENCE_TYPES) are also handed, as they arrive, to the programs that
judge by the list in force (`refer`): a list's time is when it took effect, often the
moment of its import, long after the activity it covers.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from auditor.continuous.compiler import compile_rule
from auditor.continuous.engine import RulesEngine
from auditor.continuous.programs import Outcome, Program, Unsupported
from auditor.domain.events import StreamEvent
from auditor.domain.findings import Finding, explain
from auditor.domain.license import License
from auditor.domain.rules import Pack, Rule

REFERENCE_TYPES = {"adjust_reason"}


@dataclass(frozen=True, slots=True)
class Decision:
    """A finding the continuous evaluation found, or withdrew (a later event excused it)."""

    status: str  # "open", "withdrawn" or "remedied"
    finding: Finding
    remedied_at: datetime | None = None


@dataclass
class LicenseEvaluator:
    """Runs a pack's supported rules for one license over its event stream."""

    pack: Pack
    license: License
    engine: RulesEngine
    lateness: timedelta = timedelta(0)
    programs: list[Program] = field(default_factory=list)
    batch_only: dict[str, str] = field(default_factory=dict)  # rule id -> why
    watermark: datetime | None = None
    late: int = 0  # events that arrived behind the watermark (run at once, out of order)
    _heap: list[tuple[datetime, int, StreamEvent]] = field(default_factory=list)
    _latest: datetime | None = None

    def __post_init__(self) -> None:
        """Compile every rule in force for the license's state."""
        for rule in self.pack.rules:
            if not rule.applies_to(self.license.state):
                continue
            try:
                self.programs.append(compile_rule(rule, self.license, self.engine))
            except Unsupported as why:
                self.batch_only[rule.id] = str(why)

    def feed(self, events: Iterable[StreamEvent], advance: bool = True) -> list[Decision]:
        """Take new events; return what became decidable as the watermark moved.

        While catching up on a backlog (advance=False) the events only wait in the heap:
        a backlog is read in import order, which is not event-time order.
        """
        decisions: list[Decision] = []
        for event in events:
            if event.type in REFERENCE_TYPES:
                decisions += self._refer(event)
            if self.watermark is not None and event.occurred_at <= self.watermark:
                self.late += 1
            heapq.heappush(self._heap, (event.occurred_at, event.id, event))
            if event.type in REFERENCE_TYPES:
                continue  # a list's effective time, often "now": not a point in the activity
            if self._latest is None or event.occurred_at > self._latest:
                self._latest = event.occurred_at
        if self._latest is None or not advance:
            return decisions
        return decisions + self.advance(self._latest - self.lateness)

    def _refer(self, event: StreamEvent) -> list[Decision]:
        """Hand a reference entry (a list, in force by its version) to the programs that
        take lists as they arrive: the batch audit sees every list, whenever it came."""
        decisions: list[Decision] = []
        for program in self.programs:
            refer = getattr(program, "refer", None)
            if refer is not None:
                decisions += self._decide(program.rule, refer(event))
        return decisions

    def advance(self, watermark: datetime) -> list[Decision]:
        """Run every waiting event at or before watermark, in event-time order."""
        decisions: list[Decision] = []
        while self._heap and self._heap[0][0] <= watermark:
            instant = self._heap[0][0]
            group = []
            while self._heap and self._heap[0][0] == instant:
                group.append(heapq.heappop(self._heap)[2])
            decisions += self._step(group)
        if self.watermark is None or watermark > self.watermark:
            self.watermark = watermark
            for program in self.programs:
                decisions += self._decide(program.rule, program.expire(watermark.timestamp()))
        return decisions

    def _step(self, group: list[StreamEvent]) -> list[Decision]:
        decisions: list[Decision] = []
        for program in self.programs:
            reads = program.reads
            events = group if reads is None else [e for e in group if e.type in reads]
            if not events:
                continue
            outcomes = [o for event in events for o in program.observe(event)]
            outcomes += [o for event in events for o in program.judge(event)]
            if outcomes:
                decisions += self._decide(program.rule, outcomes)
        return decisions

    def _decide(self, rule: Rule, outcomes: list[Outcome]) -> list[Decision]:
        if not outcomes:
            return []
        zone = self.license.zone()
        status = {"found": "open", "withdrawn": "withdrawn", "remedied": "remedied"}
        return [Decision(status[o.kind], explain(rule, o.violation, zone),
                         None if o.at is None else datetime.fromtimestamp(o.at, UTC))
                for o in outcomes]

    def buffered(self) -> int:
        """Return the events waiting for the watermark."""
        return len(self._heap)

    def working_memory(self) -> int:
        """Return facts and waiting events held in the engine, and events in the heap."""
        return (self.engine.working_memory() + sum(p.waiting() for p in self.programs)
                + len(self._heap))
