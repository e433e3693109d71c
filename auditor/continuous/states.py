"""state_at_time: each trigger is judged against its package's state at its time.

A package's state is, field by field, the latest evidence that gives the field
(`rules.language.STATE_EVIDENCE`: an accepted manifest line, a METRC location change,
METRC's package snapshot). The host keeps per tag the fields the conditions read, as
the latest evidence left them, and the verdict of the conditions that read the state
alone (worked out once per evidence event, as the batch audit's CTE does). The engine
holds the state as a fact keyed by tag (replaced when newer evidence comes) and joins
each trigger with it; a trigger is posted only when its tag has a state, so it is
consumed at once and nothing waits in the engine. Triggers of tags with no evidence are
not judged (the batch audit counts them as undetermined). The evaluator takes in every
event of an instant before it judges any, so evidence at the trigger's own instant
counts ("at or before").

Horizon: one state per tag in the host, for as long as the license runs; in the engine
only the states of tags active within HOT_WINDOW (durable-rules holds about 8 KB per
fact): an idle tag's fact is retracted and asserted again when a trigger of it comes.
Evidence arriving behind the watermark updates the current state without re-judging
the triggers it preceded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader, all_hold
from auditor.continuous.hosted import Hosted
from auditor.continuous.programs import HOT_WINDOW, Outcome, Selection, types_read, violation
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import finding_fact, reads_only_state, state_fields, state_given


@dataclass(slots=True)
class PackageState:
    """A tag's latest state, compact: the state-only verdict and the fields still needed."""

    ok: bool
    kept: StreamEvent  # the state event with only the fields other conditions read
    fact: dict[str, Any] | None  # as asserted in the engine (None while the tag is idle)
    touched: float = field(default=0.0)  # last event time the tag was active


class StateAtTime(Hosted):
    """state_at_time: the engine joins a trigger with its tag's state; the host judges."""

    template = Template.STATE_AT_TIME

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Split `require` into conditions on the state alone and on both."""
        super().__init__(rule, license, engine)
        params = rule.params
        self.selection = Selection(params.event, license)
        self.state_types = set(params.state_from)
        self.on_state = [c for c in params.require if reads_only_state(c)]
        self.on_both = [c for c in params.require if not reads_only_state(c)]
        self.kept_fields = state_fields(params.require)
        self.reads = types_read(params.event, extra=params.state_from)
        self.states: dict[str, PackageState] = {}
        self.hot: set[str] = set()  # tags whose state fact is in the engine

    def definition(self) -> dict[str, Any]:
        """Join a trigger with the state fact of its tag (key equality only)."""
        return {"joined": {"all": [{"e": {"k": "trig"}},
                                   {"s": {"$and": [{"k": "state"}, {"key": {"e": "key"}}]}}]}}

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Update the tag's state with the fields newer evidence gives."""
        label = event.package_label
        if event.type not in self.state_types or label is None:
            return []
        given = state_given(event.type, event.payload, self.kept_fields, self.license)
        if given is None:
            return []  # not evidence (a manifest line METRC did not accept)
        old = self.states.get(label)
        merged = {**(old.kept.payload if old is not None else {}), **given}
        kept = StreamEvent(event.id, event.type, event.occurred_at, label, event.reference,
                           merged)
        ok = all_hold(Reader(kept, self.license, state=kept), self.on_state)
        if old is not None and old.fact is not None:
            self.engine.retract_fact(self.name, old.fact)
        self.states[label] = PackageState(ok, kept, self._assert(label), event.t)
        self.hot.add(label)
        return []

    def _assert(self, label: str) -> dict[str, Any]:
        return self.engine.assert_fact(self.name, self.sid, {"k": "state", "key": label})

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge a selected trigger of a tag with a state, against that state."""
        if event.package_label not in self.states or not self.selection.picks(event):
            return []
        state = self.states[event.package_label]
        if state.fact is None:  # an idle tag: its state goes back into the engine
            state.fact = self._assert(event.package_label)
            self.hot.add(event.package_label)
        state.touched = event.t
        self.engine.post(self.name, self.sid, {"k": "trig", "key": event.package_label,
                                               "eid": event.id})
        for match in self.drained():
            if match.messages["e"]["eid"] != event.id:
                continue
            state = self.states[str(match.messages["s"]["key"])]
            reader = Reader(event, self.license, state=state.kept)
            if state.ok and all_hold(reader, self.on_both):
                return []
            return [Outcome("found", violation(self.rule, event, self.license,
                                               self._failed(reader)))]
        return []

    def _failed(self, reader: Reader) -> Any:
        """Return the facts of a finding: which `require` conditions failed (`failed_i`)."""
        failed = {f"failed_{i}": not all_hold(reader, [c])
                  for i, c in enumerate(self.rule.params.require)}
        return lambda name: finding_fact(self.rule, name, failed.get)

    def expire(self, watermark: float) -> list[Outcome]:
        """Retract the state facts of tags idle for HOT_WINDOW (the host keeps the state)."""
        idle_before = watermark - HOT_WINDOW.total_seconds()
        for label in [tag for tag in self.hot if self.states[tag].touched < idle_before]:
            state = self.states[label]
            if state.fact is not None:
                self.engine.retract_fact(self.name, state.fact)
                state.fact = None
            self.hot.discard(label)
        return []
