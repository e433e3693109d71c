"""requires_prior with `in_force_by`: a trigger needs a prior from the list version in force.

The version in force at an event is the version field of the latest list entry at or
before it, or of the earliest entry of all when none is yet (a list imported after the
activity it covers: `store.rules_sql._version_in_force`). A list's time is its effective
time, often the moment it was imported, later than the activity it covers: so list
entries are taken in as they arrive (`refer`, called by the evaluator on arrival, not in
event-time order), and the batch audit's view of all lists, whenever they arrived, is
what a trigger is judged against.

The host keeps the list timeline (one row per entry: lists are tens of names) and, per
version, the match keys of its entries. A trigger is judged when the watermark passes
it; it is kept for LIST_HORIZON after its time so that a list arriving later (one that
changes the version in force for it, or adds its key to its version) judges it again:
a violation no longer standing is withdrawn, a new one is found.

Horizon: a list entry arriving more than LIST_HORIZON after a trigger does not change
that trigger's verdict (the batch audit would).
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader
from auditor.continuous.hosted import Hosted, KnownPackages, judged_now
from auditor.continuous.programs import Outcome, Selection, key_of, types_read, violation
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import KNOWN_PACKAGE_TYPES

LIST_HORIZON = timedelta(days=90)


@dataclass(slots=True)
class Judged:
    """A trigger still open to a later list: its key and whether it stands as a violation."""

    event: StreamEvent
    key: str | None
    violated: bool


class InForceBy(Hosted):
    """requires_prior judged against the list version in force at the trigger's time."""

    template = Template.REQUIRES_PRIOR

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Read which field names the version and which fields match."""
        super().__init__(rule, license, engine)
        params = rule.params
        self.event_sel = Selection(params.event, license)
        self.prior_sel = Selection(params.prior, license)
        self.version_field: str = params.in_force_by
        # Lists come through `refer`; observe and judge see triggers and listed tags.
        self.reads = types_read(params.event, extra=KNOWN_PACKAGE_TYPES)
        self.ever = params.ever
        self.timeline: list[tuple[float, int, Any]] = []  # (time, id, version), sorted
        self.keys: dict[Any, dict[str, float]] = {}  # version -> key -> earliest entry time
        self.judged: dict[int, Judged] = {}
        self.arrived: deque[tuple[float, int]] = deque()
        self.known = KnownPackages()

    def refer(self, event: StreamEvent) -> list[Outcome]:
        """Take in a list entry as it arrives; judge again the triggers it may concern."""
        if not self.prior_sel.picks(event):
            return []
        reader = Reader(event, self.license)
        version = reader[self.version_field]
        bisect.insort(self.timeline, (event.t, event.id, version), key=lambda r: r[:2])
        key = key_of(reader, [m.prior for m in self.rule.params.match])
        if version is not None and key is not None:
            known = self.keys.setdefault(version, {})
            known[key] = min(known.get(key, event.t), event.t)
        return [o for judged in self.judged.values() for o in self._again(judged)]

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Judge the triggers parked until their tag became known."""
        return [o for parked in self.known.learn(event) for o in self._judge_known(parked)]

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge a trigger against the version in force at its time (or park it)."""
        if not judged_now(self.rule, self.event_sel, self.known, event):
            return []
        return self._judge_known(event)

    def _judge_known(self, event: StreamEvent) -> list[Outcome]:
        key = key_of(Reader(event, self.license), [m.event for m in self.rule.params.match])
        judged = Judged(event, key, self._violated(event, key))
        self.judged[event.id] = judged
        self.arrived.append((event.t, event.id))
        return [Outcome("found", violation(self.rule, event, self.license))] \
            if judged.violated else []

    def _again(self, judged: Judged) -> list[Outcome]:
        violated = self._violated(judged.event, judged.key)
        if violated == judged.violated:
            return []
        judged.violated = violated
        kind = "found" if violated else "withdrawn"
        return [Outcome(kind, violation(self.rule, judged.event, self.license))]

    def _violated(self, event: StreamEvent, key: str | None) -> bool:
        version = self._in_force(event.t)
        if key is None or version is None:
            return True
        entered = self.keys.get(version, {}).get(key)
        return entered is None or (not self.ever and entered > event.t)

    def _in_force(self, t: float) -> Any:
        """Return the version of the latest entry at or before t, else the earliest's."""
        if not self.timeline:
            return None
        index = bisect.bisect_right(self.timeline, t, key=lambda r: r[0])
        return self.timeline[index - 1][2] if index else self.timeline[0][2]

    def expire(self, watermark: float) -> list[Outcome]:
        """Stop holding triggers older than the horizon: their verdict is final."""
        horizon = watermark - LIST_HORIZON.total_seconds()
        while self.arrived and self.arrived[0][0] < horizon:
            self.judged.pop(self.arrived.popleft()[1], None)
        return []

    def waiting(self) -> int:
        """Return the triggers held for later lists, and those waiting for their tag."""
        return len(self.judged) + self.known.held()
