"""What the programs beyond `programs` share: selection with history, known tags, drain.

The programs built on `Hosted` keep history the engine cannot (on-hand, states, totals).
`drained` is the one place these programs empty the engine's queue, so a per-ruleset
drain is a one-line change.
"""

from __future__ import annotations

from typing import Any

from auditor.continuous.engine import Match
from auditor.continuous.fields import OnHand, Reader
from auditor.continuous.programs import Program, Selection
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.rules.language import KNOWN_PACKAGE_TYPES
from auditor.rules.params import EventRef


class Hosted(Program):
    """A program whose host keeps history (on-hand, states, totals) the engine cannot."""

    def definition(self) -> dict[str, Any]:
        """No rules of its own by default: the host judges on dict look-ups alone."""
        return {}

    def drained(self) -> list[Match]:
        """Return (and forget) this program's matches, leaving other rulesets' alone."""
        return self.engine.drain(self.name)


class HistorySelection(Selection):
    """A Selection whose conditions may read `on_hand` (the package's METRC quantity)."""

    def __init__(self, ref: EventRef, license: License,
                 on_hand: OnHand | None = None) -> None:
        """Keep the reference, the license and where to read on-hand from."""
        super().__init__(ref, license)
        self.on_hand = on_hand

    def reader(self, event: StreamEvent) -> Reader:
        """Return a reader that reads on-hand as of now."""
        return Reader(event, self.license, on_hand=self.on_hand)


class KnownPackages:
    """Tags METRC has listed (a manifest or its package list); triggers parked until then.

    The batch audit's `only_known_packages` asks whether METRC lists the tag at any time,
    so a trigger of a tag not yet listed waits here with what it needs to be judged.
    """

    def __init__(self) -> None:
        """Start with no tag known and nothing parked."""
        self.known: set[str] = set()
        self.parked: dict[str, list[Any]] = {}

    def learn(self, event: StreamEvent) -> list[Any]:
        """Take in an event; return what was parked for a tag it makes known."""
        label = event.package_label
        if event.type not in KNOWN_PACKAGE_TYPES or label is None or label in self.known:
            return []
        self.known.add(label)
        return self.parked.pop(label, [])

    def admit(self, event: StreamEvent, waiting: Any) -> bool:
        """Return whether the event's tag is known; if not, park `waiting` for it."""
        if event.package_label in self.known:
            return True
        if event.package_label is not None:  # an untagged event is never known
            self.parked.setdefault(event.package_label, []).append(waiting)
        return False

    def held(self) -> int:
        """Return how many triggers wait for their tag to be known."""
        return sum(len(v) for v in self.parked.values())


def judged_now(rule: Rule, selection: Selection, known: KnownPackages,
               event: StreamEvent) -> bool:
    """Return whether the rule selects the event and may judge it now.

    With `only_known_packages` an event of a tag METRC has not listed yet is parked
    (in `known`) until it is, and is not judged now.
    """
    if not selection.picks(event):
        return False
    return not rule.params.event.only_known_packages or known.admit(event, event)
