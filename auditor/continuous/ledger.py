"""METRC's on-hand per package, kept as one number per tag, and the rules that read it.

On-hand at an event is the accepted quantity, plus adjustments, less METRC sales, of
the package at or before the event (`rules.language.ON_HAND`, which the SQL backend
and the reports' ledger read too). The evaluator takes
in every event of an instant before it judges any, so the ledger a trigger reads already
holds the events of its own instant, as the SQL's "at or before" does. One float per tag
is all it keeps (tags live as long as the license: there is no horizon to drop them).
An event arriving behind the watermark moves on-hand from then on; counts already judged
are not judged again (the batch audit would count it for them).
"""

from __future__ import annotations

from typing import Any

from auditor.continuous.deadlines import Obligation, RequiresWithin
from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader, all_hold
from auditor.continuous.hosted import HistorySelection, Hosted, KnownPackages
from auditor.continuous.programs import (
    FLAG_FAILED,
    Outcome,
    Unsupported,
    key_of,
    types_read,
)
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import KNOWN_PACKAGE_TYPES, ON_HAND, on_hand_delta

# What the ledger and the known tags read.
HISTORY_TYPES = (*{term.type for term in ON_HAND["metrc"]}, *KNOWN_PACKAGE_TYPES)


class Ledger:
    """METRC's on-hand per tag, so far (`rules.language.ON_HAND`)."""

    def __init__(self) -> None:
        """Start with every tag at zero."""
        self.on_hand: dict[str, float] = {}

    def take(self, event: StreamEvent) -> None:
        """Count an event that changes METRC's quantity of its package."""
        if event.package_label is None:
            return
        delta = on_hand_delta("metrc", event.type, event.payload)
        if delta is not None:
            label = event.package_label
            self.on_hand[label] = self.on_hand.get(label, 0.0) + delta

    def __call__(self, label: str | None) -> float:
        """Return the tag's on-hand now (zero for a tag with no history, as SQL's COALESCE)."""
        return 0.0 if label is None else self.on_hand.get(label, 0.0)


def reads_on_hand(value: Any) -> bool:
    """Return whether a rule's parameters (as written) read `on_hand` anywhere."""
    if isinstance(value, dict):
        return any(reads_on_hand(v) for v in value.values())
    if isinstance(value, list):
        return any(reads_on_hand(v) for v in value)
    return value == "on_hand"


class LedgerFieldCheck(Hosted):
    """field_check on a package's history: conditions may read on-hand; tags may need to be known.

    A trigger's verdict is worked out at its time (on-hand moves on); a trigger of a tag
    METRC has not listed yet waits with its verdict until the tag is listed.
    """

    template = Template.FIELD_CHECK

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Keep a ledger and the tags known."""
        super().__init__(rule, license, engine)
        self.ledger = Ledger()
        self.known = KnownPackages()
        self.selection = HistorySelection(rule.params.event, license, self.ledger)
        self.only_known = rule.params.event.only_known_packages
        self.reads = types_read(rule.params.event, extra=HISTORY_TYPES)

    def definition(self) -> dict[str, Any]:
        """Flag every trigger whose `ok` is 0."""
        return FLAG_FAILED

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Count the event in the ledger; judge triggers waiting for its tag."""
        self.ledger.take(event)
        return [o for waiting in self.known.learn(event) for o in self.flag(*waiting)]

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge the trigger against on-hand now; report it once its tag is known."""
        if not self.selection.picks(event):
            return []
        reader = Reader(event, self.license, on_hand=self.ledger)
        ok = all_hold(reader, self.rule.params.require)
        on_hand = self.ledger(event.package_label)  # a message names on-hand as judged

        def derive(name: str) -> float:
            return on_hand

        if self.only_known and not self.known.admit(event, (event, ok, derive)):
            return []
        return self.flag(event, ok, derive)

    def waiting(self) -> int:
        """Return the triggers waiting for their tag to be known."""
        return self.known.held()


class LedgerRequiresWithin(RequiresWithin, Hosted):
    """requires_within whose event conditions read on-hand, or need the tag known.

    The selection is judged at the event's time (on-hand moves on); a selected event of
    a tag not yet listed opens its obligation when the tag is listed, with the deadline
    of its own time, so the next watermark finds it if that has passed.
    """

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Keep a ledger and the tags known beside the obligations."""
        super().__init__(rule, license, engine)
        self.reads = types_read(rule.params.event, rule.params.follow_up, extra=HISTORY_TYPES)
        self.ledger = Ledger()
        self.known = KnownPackages()
        self.event_sel = HistorySelection(rule.params.event, license, self.ledger)
        # The batch audit counts a follow-up of any time up to the deadline, even one long
        # before the event: the earliest per key and group outlives the follow-up facts.
        self.earliest: dict[str, dict[int, float]] = {}

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Count the event in the ledger, take it as a follow-up; open parked obligations."""
        self.ledger.take(event)
        self._remember(event)
        outcomes = super().observe(event)
        for parked, on_hand in self.known.learn(event):
            outcomes += self._oblige(parked, on_hand)
        return outcomes

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Open an obligation for a selected event (once its tag is known, if need be).

        On-hand is read now, at the event, for a message that names it.
        """
        if not self.event_sel.picks(event):
            return []
        on_hand = self.ledger(event.package_label)
        if self.rule.params.event.only_known_packages and \
                not self.known.admit(event, (event, on_hand)):
            return []
        return self._oblige(event, on_hand)

    def _remember(self, event: StreamEvent) -> None:
        params = self.rule.params
        if params.strictly_after or params.follow_up.first_per \
                or not self.follow_sel.picks(event):
            return
        reader = Reader(event, self.license)
        key = key_of(reader, [m.follow_up for m in params.match])
        when = reader.time(params.follow_up_time)
        if key is None or when is None:
            return
        earliest = self.earliest.setdefault(key, {})
        for group, conditions in enumerate(self.groups):
            if all_hold(reader, conditions):
                earliest[group] = min(earliest.get(group, when.timestamp()), when.timestamp())

    def _oblige(self, event: StreamEvent, on_hand: float) -> list[Outcome]:
        reader = Reader(event, self.license)
        key = key_of(reader, [m.event for m in self.rule.params.match])
        due = self.deadline.due(event.occurred_at, self.license.zone()).timestamp()
        met = {g for g, when in self.earliest.get(key or "", {}).items() if when <= due}
        duty = Obligation(event, key or "", due, set(range(len(self.groups))) - met,
                          derive=lambda name: on_hand)
        self.open[event.id] = duty
        if key is None:
            return []
        self._post(duty)
        return self._joined(self.drained())

    def waiting(self) -> int:
        """Return the events waiting for their tag to be known."""
        return self.known.held()


def ledger_program(rule: Rule, license: License, engine: RulesEngine) -> Hosted:
    """Return the program of a rule that reads on-hand or needs known tags."""
    if rule.template == Template.FIELD_CHECK:
        return LedgerFieldCheck(rule, license, engine)
    if rule.template == Template.REQUIRES_WITHIN:
        return LedgerRequiresWithin(rule, license, engine)
    raise Unsupported(f"{rule.id}: on_hand in a {rule.template.value} rule")
