"""reconcile as a ruleset: left and right records of one thing joined by key.

Both sides are facts keyed by their `match` fields; the engine joins each left with
every right of its key, whichever comes first, and the host compares the typed values
it keeps for them (the facts carry only key and id: a value may be missing, and the
engine compares loosely). A left is a violation if any right of its key differs (the
batch audit looks at rights at any time), so it is found when the first differing
right joins it, and never withdrawn.

Horizon: both sides are kept for RECONCILE_HORIZON past their time (a POS sale and its
METRC line are days apart at most); a counterpart further apart than that is not
joined, where the batch audit would still compare them. A left once found is dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader, typed
from auditor.continuous.hosted import Hosted
from auditor.continuous.programs import Outcome, Selection, key_of, types_read, violation
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import COUNTERPART_PREFIX, Derive, finding_fact
from auditor.rules.params import Compare

RECONCILE_HORIZON = timedelta(days=3)  # the sale report window (24 h) and then some


@dataclass(slots=True)
class Side:
    """One side's record: its key, event (lefts only), values compared, and fact."""

    t: float
    key: str
    values: tuple[Any, ...]
    fact: dict[str, Any]
    event: StreamEvent | None = None


class Reconcile(Hosted):
    """reconcile: a left is a violation when a right of its key records it differently."""

    template = Template.RECONCILE

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Read both sides' selections, match fields and compared fields."""
        super().__init__(rule, license, engine)
        params = rule.params
        self.left_sel = Selection(params.left, license)
        self.right_sel = Selection(params.right, license)
        self.compare = params.compare
        self.reads = types_read(params.left, params.right)
        self.lefts: dict[int, Side] = {}
        self.rights: dict[int, Side] = {}
        self.arrived: deque[tuple[float, bool, int]] = deque()  # (time, is left, id)
        # Facts held per key, [lefts, rights]: a record whose key has none on the other
        # side cannot join, so the engine's queue need not be drained for it.
        self.held: dict[str, list[int]] = {}
        self.keep_for = RECONCILE_HORIZON.total_seconds()

    def definition(self) -> dict[str, Any]:
        """Join a left with each right of the same key (key equality only)."""
        return {"joined": {"all": [{"l": {"k": "left"}},
                                   {"r": {"$and": [{"k": "right"}, {"key": {"l": "key"}}]}}]}}

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Assert a left or right record and compare it with its counterparts."""
        outcomes = []
        for side, selection, store in (("right", self.right_sel, self.rights),
                                       ("left", self.left_sel, self.lefts)):
            if not selection.picks(event):
                continue
            reader = Reader(event, self.license)
            key = key_of(reader, [getattr(m, side) for m in self.rule.params.match])
            if key is None:
                continue  # SQL's equality never holds on a missing field
            values = tuple(typed(getattr(c, side), reader[getattr(c, side)])
                           for c in self.compare)
            fact = self.engine.assert_fact(self.name, self.sid,
                                           {"k": side, "key": key, "eid": event.id})
            store[event.id] = Side(event.t, key, values, fact,
                                   event if side == "left" else None)
            self.arrived.append((event.t, side == "left", event.id))
            counts = self.held.setdefault(key, [0, 0])
            counts[side == "right"] += 1
            if counts[side == "left"]:  # a counterpart is held: the engine joined them
                outcomes += self._compared()
        return outcomes

    def _compared(self) -> list[Outcome]:
        outcomes = []
        for match in self.drained():
            left = self.lefts.get(int(match.messages["l"]["eid"]))
            right = self.rights.get(int(match.messages["r"]["eid"]))
            if left is None or right is None or left.event is None:
                continue
            if not all(self._agree(c, a, b) for c, a, b in
                       zip(self.compare, left.values, right.values, strict=True)):
                recorded = {f"{COUNTERPART_PREFIX}{c.right}": value
                            for c, value in zip(self.compare, right.values, strict=True)}
                outcomes.append(Outcome("found", violation(
                    self.rule, left.event, self.license, self._facts(recorded))))
                self._drop(self.lefts, left.event.id)
        return outcomes

    def _facts(self, recorded: dict[str, Any]) -> Derive:
        """Return a finding's facts: what the counterpart recorded (`right_X`)."""
        return lambda name: finding_fact(self.rule, name, recorded.get)

    @staticmethod
    def _agree(spec: Compare, left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        if spec.tolerance is not None:
            try:
                return abs(float(left) - float(right)) <= spec.tolerance
            except (TypeError, ValueError):
                return False
        return bool(left == right)

    def _drop(self, store: dict[int, Side], eid: int) -> None:
        side = store.pop(eid, None)
        if side is None:
            return
        self.engine.retract_fact(self.name, side.fact)
        counts = self.held[side.key]
        counts[store is self.rights] -= 1
        if counts == [0, 0]:
            del self.held[side.key]

    def expire(self, watermark: float) -> list[Outcome]:
        """Forget both sides' records older than the horizon (in arrival order: cheap)."""
        horizon = watermark - self.keep_for
        while self.arrived and self.arrived[0][0] < horizon:
            _, is_left, eid = self.arrived.popleft()
            self._drop(self.lefts if is_left else self.rights, eid)
        return []

    def waiting(self) -> int:
        """Return the records held on both sides."""
        return len(self.lefts) + len(self.rights)
