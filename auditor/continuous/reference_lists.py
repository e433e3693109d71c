"""requires_prior with `in_force_by`: a trigger needs a prior from the list version in force.

The version in force at an event is the version field of the latest list entry at or
before it, or of the earliest entry of all when none is yet (a list imported after the
activity it covers: `rules_sql._version_in_force`). The host keeps, per version, the
match keys its entries carry (a reason list is tens of names), the latest version seen,
and the earliest. Triggers judged before any list arrived wait (violations, as in the
batch audit with no list at all) until the first list fixes their version, then are
judged again: those the list allows are withdrawn. A violation of a version waits for a
later entry of that same version with its key (`when: ever`), which withdraws it.

Horizon: violations are kept (they are few) so a late entry can withdraw them; a list
entry arriving behind the watermark with a time before the first list's is taken as
the latest, not the earliest (the batch audit would re-date earlier triggers).
"""

from __future__ import annotations

from typing import Any

from auditor.continuous.engine import RulesEngine
from auditor.continuous.fields import Reader, StreamEvent
from auditor.continuous.hosted import Hosted, KnownPackages
from auditor.continuous.programs import Outcome, Selection, key_of, violation
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template


class InForceBy(Hosted):
    """requires_prior judged against the list version in force at the trigger's time."""

    template = Template.REQUIRES_PRIOR

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Read which field names the version and which fields match."""
        super().__init__(rule, license, engine)
        params = rule.params
        self.event_sel = Selection(params["event"], license)
        self.prior_sel = Selection(params["prior"], license)
        self.version_field: str = params["in_force_by"]
        self.ever = params["when"] != "before"
        self.keys: dict[Any, set[str]] = {}  # version -> match keys of its entries
        self.first: Any = None  # the earliest entry's version
        self.latest: Any = None  # the latest entry's version so far
        self.seen_list = False
        self.before_lists: list[StreamEvent] = []  # judged with no list: wait for the first
        self.violated: dict[tuple[Any, str], list[StreamEvent]] = {}  # (version, key) -> events
        self.known = KnownPackages()

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Take in a list entry: its version's keys, the latest version; re-judge waiters."""
        outcomes = []
        for parked in self.known.learn(event):
            outcomes += self._judge_known(parked)
        if not self.prior_sel.picks(event):
            return outcomes
        reader = Reader(event, self.license)
        version = reader[self.version_field]
        key = key_of(reader, [m["prior"] for m in self.rule.params["match"]])
        self.latest = version
        if not self.seen_list:
            self.seen_list, self.first = True, version
            waiting, self.before_lists = self.before_lists, []
            for trigger in waiting:
                outcomes += self._rejudge(trigger, version)
        if version is None or key is None:
            return outcomes
        self.keys.setdefault(version, set()).add(key)
        for trigger in self.violated.pop((version, key), []) if self.ever else []:
            outcomes.append(Outcome("withdrawn", violation(self.rule, trigger)))
        return outcomes

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Judge a trigger against the version in force now (or park it for its tag)."""
        if not self.event_sel.picks(event):
            return []
        if self.rule.params["event"]["only_known_packages"] and \
                not self.known.admit(event, event):
            return []
        return self._judge_known(event)

    def _judge_known(self, event: StreamEvent) -> list[Outcome]:
        if not self.seen_list:
            self.before_lists.append(event)
            return [Outcome("found", violation(self.rule, event))]
        return self._verdict(event, self.latest)

    def _verdict(self, event: StreamEvent, version: Any) -> list[Outcome]:
        key = key_of(Reader(event, self.license),
                     [m["event"] for m in self.rule.params["match"]])
        if key is not None and version is not None and key in self.keys.get(version, ()):
            return []
        if key is not None and version is not None:
            self.violated.setdefault((version, key), []).append(event)
        return [Outcome("found", violation(self.rule, event))]

    def _rejudge(self, event: StreamEvent, version: Any) -> list[Outcome]:
        """A trigger found before any list: the first list is its version (found already)."""
        key = key_of(Reader(event, self.license),
                     [m["event"] for m in self.rule.params["match"]])
        if key is not None and version is not None:
            self.violated.setdefault((version, key), []).append(event)
        return []

    def waiting(self) -> int:
        """Return the triggers held: before any list, violated, or of unknown tags."""
        return (len(self.before_lists) + sum(len(v) for v in self.violated.values())
                + self.known.held())
