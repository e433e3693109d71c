"""aggregate: running totals per group, kept by the host as one number per group and limit.

Each source event's amount towards each limit is worked out as the batch audit does
(`store.aggregate_sql._contributions`: the first equivalent whose conditions hold, divided by its
`per`, a missing multiplier counting as 1, a missing measure as 0); the event that takes
a total out of its bounds (EPSILON) is found, if its type is reported. `state.X` reads
the tag's latest package snapshot at or before the event (the evaluator takes in every
event of an instant before it judges any, so a snapshot of the same instant counts).

`from_start` sources (a package's accepted quantity) count before every other event in
the batch audit, wherever they fall in time. A group that got other amounts before its
first from_start amount keeps those events (its history) until that amount comes: then
its crossings are worked out again in the batch order, and what changed is withdrawn or
found. Once a group has a from_start amount, its history is dropped.

Horizons (where continuous may differ from batch, documented and tested):
- groups without from_start sources (a customer's day, a receipt) are dropped
  IDLE_HORIZON after their last amount: an amount later than that starts a new total;
- a group's history waiting for a from_start amount is kept HISTORY_HORIZON at most;
- a from_start amount after a group's first one counts from its own time on (those of
  the same instant as the first all count first, as in the batch audit);
- an event arriving behind the watermark is added at once to the totals as they stand
  (the batch audit would place it in time order).
The engine adds nothing to sums kept per group: these programs need no rules of their own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader, all_hold, typed
from auditor.continuous.hosted import Hosted
from auditor.continuous.programs import Outcome, Unsupported, violation
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import DERIVED, EPSILON, STATE_PREFIX, Derive, finding_fact
from auditor.rules.params import AggregateParams, Limit, Source

IDLE_HORIZON = timedelta(days=2)
HISTORY_HORIZON = timedelta(days=30)
SNAPSHOT = "package_snapshot"


@dataclass(slots=True)
class Group:
    """One group's totals per limit, and its history while it waits for a from_start amount."""

    totals: list[float]
    start: list[float]
    last_t: float = 0.0
    started: bool = False
    history: list[tuple[StreamEvent, tuple[float | None, ...]]] | None = \
        field(default_factory=list)
    found: dict[int, StreamEvent] = field(default_factory=dict)  # while history is kept


class Aggregate(Hosted):
    """aggregate: the host keeps each group's running totals; crossings are found."""

    template = Template.AGGREGATE

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Read sources, limits and groups; keep snapshots only if a source reads them."""
        params: AggregateParams = rule.params
        if any(s.from_start and s.type in params.report for s in params.sources):
            raise Unsupported(f"{rule.id} reports a from_start source")
        super().__init__(rule, license, engine)
        self.sources: dict[str, list[Source]] = {}
        for source in params.sources:
            self.sources.setdefault(source.type, []).append(source)
        self.limits = params.limits
        self.group_by = params.group_by
        self.report = set(params.report)
        self.has_start = any(s.from_start for s in params.sources)
        self.state_fields = self._state_fields(params)
        self.snapshots: dict[str, StreamEvent] = {}
        self.groups: dict[tuple[Any, ...], Group] = {}
        self.reads = frozenset(self.sources) | ({SNAPSHOT} if self.state_fields else set())
        self.touched: deque[tuple[float, tuple[Any, ...]]] = deque()
        self.starts: list[StreamEvent] = []  # from_start events of the instant being run

    @staticmethod
    def _state_fields(params: AggregateParams) -> set[str]:
        names = [s.multiply_by for s in params.sources]
        names += [t.multiply_by for lim in params.limits for t in lim.equivalents]
        return {n.removeprefix(STATE_PREFIX) for n in names if n and n.startswith(STATE_PREFIX)}

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Keep the tag's latest snapshot, compact (only the fields multiplied by)."""
        if self.state_fields and event.type == SNAPSHOT and event.package_label is not None:
            self.snapshots[event.package_label] = StreamEvent(
                event.id, event.type, event.occurred_at, event.package_label, None,
                {k: v for k, v in event.payload.items() if k in self.state_fields})
        if any(s.from_start for s in self.sources.get(event.type, ())):
            self.starts.append(event)
        return []

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Add the event's amounts to its group's totals; report a crossing.

        The from_start amounts of the instant count first, before any other amount of
        it, as the batch audit counts them before all others.
        """
        outcomes: list[Outcome] = []
        starts, self.starts = self.starts, []
        for start in starts:
            for source in self.sources[start.type]:
                if source.from_start:
                    outcomes += self._add(source, start)
        for source in self.sources.get(event.type, ()):
            if not source.from_start:
                outcomes += self._add(source, event)
        return outcomes

    def _add(self, source: Source, event: StreamEvent) -> list[Outcome]:
        state = self.snapshots.get(event.package_label or "") if self.state_fields else None
        reader = Reader(event, self.license, state=state)
        key = tuple(reader[name] for name in self.group_by)
        if any(v is None and n not in DERIVED for v, n in zip(key, self.group_by, strict=True)):
            return []
        if not all_hold(reader, source.where):
            return []
        deltas = tuple(self._delta(reader, source, limit) for limit in self.limits)
        if all(d is None for d in deltas):
            return []
        group = self._group(key, event.t)
        if source.from_start:
            return self._start(group, deltas)
        crossed = self._cross(group.totals, deltas)
        if group.history is not None and not group.started:
            group.history.append((event, deltas))
            if crossed and event.type in self.report:
                group.found[event.id] = event
        if crossed and event.type in self.report:
            return [Outcome("found", violation(self.rule, event, self.license,
                                               self._facts(crossed)))]
        return []

    def _facts(self, crossing: tuple[int, float]) -> Derive:
        """Return a finding's facts: the limit it passed (`limit_index`) and the total."""
        known = {"limit_index": crossing[0], "total": crossing[1]}
        return lambda name: finding_fact(self.rule, name, known.get)

    def _delta(self, reader: Reader, source: Source, limit: Limit) -> float | None:
        """Return the event's amount towards a limit (None: the limit does not count it)."""
        measure = reader[source.measure]
        if measure is not None:
            measure = float(measure) if source.add else -float(measure)
        for term in limit.terms:
            if not all_hold(reader, limit.where + term.where):
                continue
            multiply_by = term.multiply_by or source.multiply_by
            amount = measure
            if multiply_by and amount is not None:
                factor = typed(multiply_by, reader[multiply_by])
                amount = amount * (1.0 if factor is None else float(factor))
            return 0.0 if amount is None else amount / term.per
        return None

    def _cross(self, totals: list[float],
               deltas: tuple[float | None, ...]) -> tuple[int, float] | None:
        """Add deltas to the running totals; return the first limit crossed (its index and
        total), if any."""
        crossed = None
        for index, delta in enumerate(deltas):
            if delta is None:
                continue
            totals[index] += delta
            if self._out(index, totals[index], delta) and crossed is None:
                crossed = (index, totals[index])
        return crossed

    def _out(self, index: int, total: float, delta: float) -> bool:
        limit, before = self.limits[index], total - delta
        if limit.minimum is not None:
            bound = limit.minimum - EPSILON
            return total < bound <= before
        bound = (limit.maximum or 0.0) + EPSILON
        return total > bound >= before

    def _start(self, group: Group, deltas: tuple[float | None, ...]) -> list[Outcome]:
        """Count a from_start amount; the first one re-judges the group's history."""
        for index, delta in enumerate(deltas):
            if delta is not None:
                group.start[index] += delta
                group.totals[index] += delta
        if group.started:
            return []
        group.started = True
        history, group.history = group.history or [], None
        if not history:
            return []
        group.totals = list(group.start)
        crossing = {}
        for event, event_deltas in history:
            crossed = self._cross(group.totals, event_deltas)
            if crossed and event.type in self.report:
                crossing[event.id] = (event, crossed)
        outcomes = [Outcome("withdrawn", violation(self.rule, e, self.license))
                    for eid, e in group.found.items() if eid not in crossing]
        outcomes += [Outcome("found", violation(self.rule, e, self.license, self._facts(c)))
                     for eid, (e, c) in crossing.items() if eid not in group.found]
        group.found = {}
        return outcomes

    def _group(self, key: tuple[Any, ...], t: float) -> Group:
        group = self.groups.get(key)
        if group is None:
            zeros = [0.0] * len(self.limits)
            group = self.groups[key] = Group(list(zeros), list(zeros),
                                             history=[] if self.has_start else None)
        group.last_t = max(group.last_t, t)
        if not self.has_start or (group.history is not None and not group.started):
            self.touched.append((t, key))  # a started package group is kept: no horizon
        return group

    def expire(self, watermark: float) -> list[Outcome]:
        """Drop idle groups (no from_start sources) and histories past their horizon."""
        idle = watermark - IDLE_HORIZON.total_seconds()
        old = watermark - HISTORY_HORIZON.total_seconds()
        while self.touched and self.touched[0][0] < (old if self.has_start else idle):
            t, key = self.touched.popleft()
            group = self.groups.get(key)
            if group is None or group.last_t > t:
                continue  # touched again since: a later entry stands for it
            if self.has_start:
                group.history, group.found = None, {}
            else:
                del self.groups[key]
        return []

    def waiting(self) -> int:
        """Return the events held in histories waiting for a from_start amount."""
        return sum(len(g.history or ()) for g in self.groups.values())
