"""full_count_interval run continuously: counts judged full by what they cover, as they stream.

The definition is `rules.coverage`'s, as the SQL backend (`store.coverage_sql`) applies
it. The host keeps METRC's on-hand per tag as it stood before the current instant (the
instant's own moves wait until it ends, so a count's first line sees "just before"),
and for each count still tracked the packages it has yet to cover: on-hand at its start,
less the tags it counted and those METRC sold between its first and its latest line. A
count whose set runs empty (and began with something on hand) is full: it meets the
open obligations whose interval it began in, late ones are remedied, and it opens its
own. When the clock passes an obligation's deadline unmet, the violation is found and
explains the count of the interval closest to full.

A count still incomplete two intervals after it began is no longer tracked (its lines
straggle past any obligation it could meet in time); the worker's settle, which asks
the batch compilers, judges such stragglers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.hosted import Hosted
from auditor.continuous.ledger import Ledger
from auditor.continuous.programs import Outcome, violation
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.coverage import EMPTY, LISTED
from auditor.rules.language import ON_HAND, finding_fact

MOVES = frozenset(term.type for term in ON_HAND["metrc"])
COUNT_LINE, SALE = "count_line", "metrc_sale_line"


@dataclass
class Count:
    """One count as streamed so far: its first line, span, and what it has yet to cover."""

    first: StreamEvent
    started: float
    ended: float
    on_hand: int
    remaining: set[str]
    sold_after: set[str] = field(default_factory=set)  # sold after its latest line so far
    full: bool = False

    def covered(self) -> bool:
        """Return whether the count covers all it had to (and had something to cover)."""
        return self.on_hand > 0 and not self.remaining


@dataclass
class Duty:
    """A full count's obligation: the next full count by `due`."""

    count: Count
    due: float
    found: bool = False
    remedied_at: float | None = None
    closest: dict[str, Any] = field(default_factory=dict)  # the explanation, when found


class FullCountInterval(Hosted):
    """full_count_interval: after each full count, the next one within the interval."""

    template = Template.FULL_COUNT_INTERVAL

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Keep on-hand, the counts tracked and the obligations open."""
        super().__init__(rule, license, engine)
        self.reads = MOVES | {COUNT_LINE}
        self.ledger = Ledger()
        self.instant: datetime | None = None
        self.moves: list[StreamEvent] = []  # the current instant's, applied when it ends
        self.counts: dict[str, Count] = {}  # tracked counts by count id
        self.dirty: set[str] = set()
        self.duties: dict[str, Duty] = {}  # by the count id of the full count owing one
        self.retired: set[str] = set()  # counts no longer tracked: later lines are ignored
        self.keep_for = 2 * max(rule.params.deadline.after.total_seconds(), 86400.0)

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Take a move into on-hand (after its instant), a line or a sale into its counts."""
        if self.instant is None or event.occurred_at > self.instant:
            for move in self.moves:
                self.ledger.take(move)
            self.moves, self.instant = [], event.occurred_at
        if event.type in MOVES:
            self.moves.append(event)
        if event.type == COUNT_LINE and event.reference is not None:
            self._line(event)
        elif event.type == SALE and event.package_label is not None:
            self._sale(event.package_label, event.t)
        return []

    def _line(self, event: StreamEvent) -> None:
        if event.reference in self.retired:
            return
        count = self.counts.get(event.reference or "")
        if count is None:
            held = {tag for tag, q in self.ledger.on_hand.items() if q > EMPTY}
            count = Count(event, event.t, event.t, len(held), held)
            self.counts[event.reference or ""] = count
            for move in self.moves:  # sold at the very instant the count began
                if move.type == SALE and move.package_label is not None:
                    count.remaining.discard(move.package_label)
        count.ended = max(count.ended, event.t)
        count.remaining.discard(event.package_label or "")
        count.remaining -= count.sold_after
        count.sold_after.clear()
        self.dirty.add(event.reference or "")

    def _sale(self, tag: str, when: float) -> None:
        for count_id, count in self.counts.items():
            if count.started <= when and tag in count.remaining:
                if when <= count.ended:
                    count.remaining.discard(tag)
                    self.dirty.add(count_id)
                else:
                    count.sold_after.add(tag)

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Act on the counts this instant made full."""
        outcomes: list[Outcome] = []
        for count_id in sorted(self.dirty):
            count = self.counts.get(count_id)
            if count is not None and not count.full and count.covered():
                count.full = True
                outcomes += self._full(count_id, count)
        self.dirty.clear()
        return outcomes

    def _full(self, count_id: str, count: Count) -> list[Outcome]:
        """Meet or remedy the obligations this full count answers; open its own."""
        outcomes: list[Outcome] = []
        for owed in list(self.duties.values()):
            if owed.count.started >= count.started:
                continue
            if count.started <= owed.due and owed.found:
                owed.found = False  # a count in time, complete only now: no violation
                outcomes.append(Outcome("withdrawn", self._violation(owed)))
            elif count.started > owed.due and owed.found and owed.remedied_at is None:
                owed.remedied_at = count.started
                outcomes.append(Outcome("remedied", self._violation(owed), count.started))
            if count.started <= owed.due:
                del self.duties[owed.count.first.reference or ""]
        due = self.rule.params.deadline.due(count.first.occurred_at, self.license.zone())
        duty = Duty(count, due.timestamp())
        if not any(other.full and count.started < other.started <= duty.due
                   for other in self.counts.values()):
            self.duties[count_id] = duty
        return outcomes

    def expire(self, watermark: float) -> list[Outcome]:
        """Find the obligations whose interval the clock passed; forget the old."""
        outcomes = []
        for count_id, duty in list(self.duties.items()):
            if duty.due <= watermark and not duty.found and duty.remedied_at is None:
                duty.found = True
                duty.closest = self._closest(duty)
                outcomes.append(Outcome("found", self._violation(duty)))
            if duty.due + self.keep_for < watermark:
                del self.duties[count_id]
        for count_id, count in list(self.counts.items()):
            if count.started + self.keep_for < watermark:
                del self.counts[count_id]
                self.retired.add(count_id)
        return outcomes

    def _closest(self, duty: Duty) -> dict[str, Any]:
        """Return the explanation of the count of the interval closest to full."""
        hint = self.rule.params.hint
        candidates = [(count_id, count) for count_id, count in self.counts.items()
                      if duty.count.started < count.started <= duty.due]
        if not candidates:
            return {}

        def rank(item: tuple[str, Count]) -> tuple[Any, ...]:
            count_id, count = item
            named = 0 if hint and re.search(hint, count_id) else 1
            return (count.on_hand == 0, named, len(count.remaining), count.started, count_id)

        count_id, count = min(candidates, key=rank)
        return {"closest": count_id, "on_hand_at_start": count.on_hand,
                "not_counted": len(count.remaining),
                "tags": ",".join(sorted(count.remaining)[:LISTED])}

    def _violation(self, duty: Duty) -> Any:
        known = dict(duty.closest)
        if duty.remedied_at is not None:
            known["follow_up_0"] = datetime.fromtimestamp(duty.remedied_at, UTC)
        return violation(self.rule, duty.count.first, self.license,
                         lambda name: finding_fact(self.rule, name, known.get))
