"""Rule templates as durable-rules rulesets plus the typed facts the host feeds them.

What runs where: the host reads and types every field and judges each event's own
conditions (`fields`, SQL's three-valued logic); the engine correlates events with
the facts they need by key (one ruleset per rule, sessions per license). Time windows
are judged by the host on the pairs the engine matched, because `$lte`/`$gt` against
another alias's float crashes durable-rules' C core here at random (see `engine`).

Here: the Program base, field_check (not on `on_hand`) and requires_prior (not
`in_force_by`); the other templates' programs have modules of their own.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader, all_hold, condition
from auditor.domain.events import StreamEvent
from auditor.domain.findings import Violation
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import KNOWN_PACKAGE_TYPES, Derive, shape_violation
from auditor.rules.params import EventRef

EVER_HORIZON = timedelta(days=7)  # how long `ever` priors keyed on one record are kept
HOT_WINDOW = timedelta(days=1)  # how long a prior stays in the engine before history
FLAG_FAILED = {"bad": {"all": [{"e": {"$and": [{"k": "trig"}, {"ok": 0}]}}]}}
_serial = itertools.count(1)  # ruleset names are process global: never reuse one


class Unsupported(Exception):
    """A rule the continuous evaluator cannot run (it stays with the batch audit)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a program decided about an event: a violation found, or one withdrawn."""

    kind: str  # "found", "withdrawn" or "remedied"
    violation: Violation
    at: float | None = None  # remedied: when the late follow-up came (POSIX seconds)


def violation(rule: Rule, event: StreamEvent, license: License,
              derive: Derive | None = None) -> Violation:
    """Return the violation an event triggers, shaped as the batch backend shapes it."""
    return shape_violation(rule, event.id, event.type, event.occurred_at, event.package_label,
                           event.reference, event.payload, license.zone(), derive)


class Selection:
    """Judges whether an event is one a rule's event reference picks (type, where, ...)."""

    def __init__(self, ref: EventRef, license: License) -> None:
        """Keep the reference and the license its `@license` values come from."""
        self.ref, self.license = ref, license
        self.first_seen: set[tuple[str, Any]] = set()

    def reader(self, event: StreamEvent) -> Reader:
        """Return the reader the reference's conditions are judged with."""
        return Reader(event, self.license)

    def picks(self, event: StreamEvent) -> bool:
        """Return whether the event is selected (first_per is judged in arrival order)."""
        ref = self.ref
        if ref.any_type:
            if event.package_label is None:
                return False
        elif event.type not in ref.type:
            return False
        reader = self.reader(event)
        if not all_hold(reader, ref.where):
            return False
        if ref.where_any and not any(condition(reader, c) is True for c in ref.where_any):
            return False
        if ref.first_per:
            value = reader[ref.first_per]
            if value is None or (event.type, value) in self.first_seen:
                return False
            self.first_seen.add((event.type, value))
        return True


def key_of(reader: Reader, names: Sequence[str]) -> str | None:
    """Return the typed match key of an event (None if a field is missing: SQL NULL).

    Each value is written with its type, so 1 and "1" differ as they do in SQL, and
    joined by a separator no tag or name contains.
    """
    parts = []
    for name in names:
        value = reader[name]
        if value is None:
            return None
        parts.append(f"{type(value).__name__}:{value}")
    return "\x1f".join(parts)


def types_read(*refs: EventRef, extra: Sequence[str] = ()) -> frozenset[str] | None:
    """Return the event types the references select, or None when one takes any type."""
    types = set(extra)
    for ref in refs:
        if ref.any_type:
            return None
        types.update(ref.type)
    return frozenset(types)


class Program:
    """A rule's ruleset and the facts the host keeps asserted in it."""

    template: Template
    # The event types the program observes or judges (None: every event). The
    # evaluator hands a program only these, so a program skips most events unseen.
    reads: frozenset[str] | None = None

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Register the rule's ruleset under a versioned, process-unique name."""
        self.rule, self.license, self.engine = rule, license, engine
        self.name = f"{rule.id}.v{rule.version}.{next(_serial)}"
        self.sid = license.number
        engine.register(self.name, self.definition())

    def definition(self) -> dict[str, Any]:
        """Return the ruleset's rules in durable-rules' JSON form."""
        raise NotImplementedError

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Take in an event as a fact other events may need (phase 1 of a time step)."""
        return []

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge an event as a trigger (phase 2, after every fact of its time)."""
        return []

    def expire(self, watermark: float) -> list[Outcome]:
        """Retract facts no later event can need; return what the clock decided."""
        return []

    def waiting(self) -> int:
        """Return the triggers the host holds waiting for a later event."""
        return 0

    def flag(self, event: StreamEvent, ok: bool, derive: Derive | None = None) -> list[Outcome]:
        """Post a failed check (ruleset FLAG_FAILED) typed as 0; report what the engine flags.

        A passing check (ok=1) would match no rule and the engine would drop it, so it
        is not posted.
        """
        if ok:
            return []
        self.engine.post(self.name, self.sid, {"k": "trig", "ok": 0, "eid": event.id})
        flagged = {m.messages["e"]["eid"] for m in self.engine.drain(self.name)}
        return [Outcome("found", violation(self.rule, event, self.license, derive))] \
            if event.id in flagged else []


class FieldCheck(Program):
    """field_check: the engine flags typed events whose own conditions do not all hold."""

    template = Template.FIELD_CHECK

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Select the rule's events (known tags and on-hand are `ledger`'s to run)."""
        super().__init__(rule, license, engine)
        self.selection = Selection(rule.params.event, license)
        self.reads = types_read(rule.params.event)

    def definition(self) -> dict[str, Any]:
        """Flag every trigger whose `ok` is 0."""
        return FLAG_FAILED

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge the event's own conditions; report what the engine flags."""
        if not self.selection.picks(event):
            return []
        return self.flag(event, all_hold(Reader(event, self.license), self.rule.params.require))


class RequiresPrior(Program):
    """requires_prior: the engine joins each trigger with the priors of its key.

    A trigger none of whose joined priors is early enough is a violation. With
    `when: ever` a prior arriving later withdraws it: the host keeps such violations
    by key until their prior comes.

    The engine is a matcher of recent activity, not a store of history (it holds about
    8 KB per fact): a prior stays in it for HOT_WINDOW of event time, then only its key
    and earliest time stay, in the host's `history`, which judges triggers the engine
    found nothing for.
    """

    template = Template.REQUIRES_PRIOR

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Select triggers and priors (`in_force_by` is `reference_lists`'s to run)."""
        super().__init__(rule, license, engine)
        params = rule.params
        self.event_sel = Selection(params.event, license)
        self.prior_sel = Selection(params.prior, license)
        self.reads = types_read(params.event, params.prior, extra=KNOWN_PACKAGE_TYPES)
        self.ever = params.ever
        self.within = (params.within.total_seconds()
                       if params.within is not None and not self.ever else None)
        # A key naming one record (receipt and tag) is short-lived; one naming a package
        # lives as long as the package. Only the former leave after a retention horizon.
        self.horizon = (EVER_HORIZON.total_seconds()
                        if self.ever and len(params.match) > 1 else None)
        self.priors: dict[str, list[dict[str, Any]]] = {}  # key -> facts in the engine
        self.history: dict[str, float] = {}  # key -> earliest prior, out of the engine
        self.aged: deque[tuple[float, str]] = deque()  # history in time order, to forget
        self.violated: dict[str, list[StreamEvent]] = {}  # ever: key -> open violations
        self.known: set[str] = set()
        self.parked: dict[str, list[StreamEvent]] = {}  # unknown package -> triggers

    def definition(self) -> dict[str, Any]:
        """Join a trigger with each prior of the same key (key equality only)."""
        return {"joined": {"all": [{"e": {"k": "trig"}},
                                   {"p": {"$and": [{"k": "prior"}, {"key": {"e": "key"}}]}}]}}

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Assert a prior (the earliest per key suffices without a look-back window)."""
        outcomes: list[Outcome] = []
        if self.prior_sel.picks(event):
            names = [m.prior for m in self.rule.params.match]
            key = key_of(Reader(event, self.license), names)
            if key is not None and (self.within is not None or (
                    key not in self.priors and key not in self.history)):
                fact = self.engine.assert_fact(self.name, self.sid,
                                               {"k": "prior", "key": key, "t": event.t})
                self.priors.setdefault(key, []).append(fact)
            if key is not None and key in self.violated:
                outcomes += [Outcome("withdrawn", violation(self.rule, trigger, self.license))
                             for trigger in self.violated.pop(key)]
        if event.type in KNOWN_PACKAGE_TYPES and event.package_label not in self.known:
            self.known.add(event.package_label or "")
            for parked in self.parked.pop(event.package_label or "", []):
                outcomes += self._judge_known(parked)
        return outcomes

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge a trigger now, or park it until its package is known."""
        if not self.event_sel.picks(event):
            return []
        if self.rule.params.event.only_known_packages and event.package_label not in self.known:
            self.parked.setdefault(event.package_label or "", []).append(event)
            return []
        return self._judge_known(event)

    def _judge_known(self, event: StreamEvent) -> list[Outcome]:
        names = [m.event for m in self.rule.params.match]
        key = key_of(Reader(event, self.license), names)
        times: list[float] = []
        if key is not None:
            self._post(key, event)
            for match in self.engine.drain(self.name):
                if match.messages["e"]["eid"] == event.id:
                    times.append(float(match.messages["p"]["t"]))
            if key in self.history:
                times.append(self.history[key])
        violated = not any(self._early_enough(t, event.t) for t in times)
        if self.ever and violated and key is not None:
            self.violated.setdefault(key, []).append(event)
        return [Outcome("found", violation(self.rule, event, self.license))] if violated else []

    def _post(self, key: str, event: StreamEvent) -> None:
        trigger = {"k": "trig", "key": key, "t": event.t, "eid": event.id}
        if self.within is None:
            # One prior per key at most is in the engine: a posted trigger joins it and
            # is consumed. With none there, the join cannot happen and a posted trigger
            # would wait in the engine for good, so the host's history alone decides.
            if key in self.priors:
                self.engine.post(self.name, self.sid, trigger)
            return
        # Several priors of a key within the look-back, and an event is consumed by its
        # first join: a fact joins every one of them, then leaves.
        self.engine.retract_fact(self.name, self.engine.assert_fact(self.name, self.sid,
                                                                    trigger))

    def _early_enough(self, prior: float, trigger: float) -> bool:
        if self.ever:
            return True
        if prior > trigger:
            return False
        return self.within is None or prior >= trigger - self.within

    def waiting(self) -> int:
        """Return the `ever` violations waiting for a prior to withdraw them."""
        return sum(len(triggers) for triggers in self.violated.values())

    def expire(self, watermark: float) -> list[Outcome]:
        """Retract priors no later trigger can use; move the rest of the old to history."""
        if self.within is not None:
            self._retract_older(watermark - self.within, keep_history=False)
            return []
        self._retract_older(watermark - HOT_WINDOW.total_seconds(), keep_history=True)
        if self.horizon is not None:
            forget = watermark - self.horizon
            while self.aged and self.aged[0][0] < forget:
                _, key = self.aged.popleft()
                self.history.pop(key, None)
        return []

    def _retract_older(self, before: float, keep_history: bool) -> None:
        for key in list(self.priors):
            keep = []
            for fact in self.priors[key]:
                if fact["t"] >= before:
                    keep.append(fact)
                    continue
                self.engine.retract_fact(self.name, fact)
                if keep_history and key not in self.history:
                    self.history[key] = fact["t"]
                    self.aged.append((fact["t"], key))
            if keep:
                self.priors[key] = keep
            else:
                del self.priors[key]
