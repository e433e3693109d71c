"""requires_within as a ruleset: obligations joined by key with their follow-ups.

The engine joins each obligation (a fact, retracted once settled or past its
retention) with every follow-up fact of the same key, whichever comes first. The host
keeps the obligations still open with their due time on the event-time clock (never
durable-rules' wall-clock timers): a join whose follow-up time is at or before the
deadline meets the obligation's group; when the watermark passes the deadline with a
group unmet, the violation is found. A follow-up joined after that withdraws it if it
was in time (its event arrived late), and otherwise marks it remedied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.continuous.engine import Match, RulesEngine
from auditor.continuous.fields import Reader, all_hold
from auditor.continuous.programs import (
    Outcome,
    Program,
    Selection,
    key_of,
    types_read,
    violation,
)
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import Derive
from auditor.rules.params import Conditions


@dataclass
class Obligation:
    """An event's obligation: its due time and the groups of follow-ups still missing."""

    event: StreamEvent
    key: str
    due: float
    missing: set[int]
    found: bool = False
    remedied_at: float | None = None
    late_groups: set[int] = field(default_factory=set)
    late_when: float | None = None  # the earliest follow-up after the deadline
    late_by_group: dict[int, float] = field(default_factory=dict)  # earliest late, per group
    fact: dict[str, Any] | None = None  # as asserted in the engine, for retraction
    derive: Derive | None = None  # derived fields as they stood at the event (on-hand)


class RequiresWithin(Program):
    """requires_within: every event needs a follow-up of the same key by its deadline."""

    template = Template.REQUIRES_WITHIN

    def __init__(self, rule: Rule, license: License, engine: RulesEngine) -> None:
        """Read the deadline, the follow-up groups and the follow-up time field."""
        super().__init__(rule, license, engine)
        params = rule.params
        self.deadline = params.deadline
        self.groups: tuple[Conditions, ...] = params.groups
        self.event_sel = Selection(params.event, license)
        self.follow_sel = Selection(params.follow_up, license)
        self.reads = types_read(params.event, params.follow_up)
        self.open: dict[int, Obligation] = {}
        self.follow_ups: list[dict[str, Any]] = []
        # Follow-ups are kept for two deadlines: long enough for any obligation of their
        # time; an older one meeting a far later obligation is not seen (documented).
        self.keep_for = 2 * max(self.deadline.after.total_seconds(), 86400.0)

    def definition(self) -> dict[str, Any]:
        """Join an obligation with each follow-up of the same key."""
        return {"joined": {"all": [{"e": {"k": "due"}},
                                   {"f": {"$and": [{"k": "follow"}, {"key": {"e": "key"}}]}}]}}

    def observe(self, event: StreamEvent) -> list[Outcome]:
        """Assert a follow-up with the groups it serves and its typed follow-up time."""
        if not self.follow_sel.picks(event):
            return []
        reader = Reader(event, self.license)
        key = key_of(reader, [m.follow_up for m in self.rule.params.match])
        when = reader.time(self.rule.params.follow_up_time)
        groups = [i for i, g in enumerate(self.groups) if all_hold(reader, g)]
        if key is None or when is None or not groups:
            return []
        fact = self.engine.assert_fact(self.name, self.sid, {
            "k": "follow", "key": key, "t": event.t, "when": when.timestamp(),
            "groups": ",".join(map(str, groups))})
        self.follow_ups.append(fact)
        return self._joined(self.engine.drain())

    def judge(self, event: StreamEvent) -> list[Outcome]:
        """Open an obligation for a selected event and join it with known follow-ups."""
        if not self.event_sel.picks(event):
            return []
        reader = Reader(event, self.license)
        key = key_of(reader, [m.event for m in self.rule.params.match])
        due = self.deadline.due(event.occurred_at, self.license.zone()).timestamp()
        duty = Obligation(event, key or "", due, set(range(len(self.groups))))
        self.open[event.id] = duty
        if key is not None:
            self._post(duty)
            return self._joined(self.engine.drain())
        return []

    def _post(self, duty: Obligation) -> None:
        # A fact, not an event: an event is consumed by its first join, and an
        # obligation may need several follow-ups (each_of, or one before its event).
        duty.fact = self.engine.assert_fact(self.name, self.sid, {
            "k": "due", "key": duty.key, "eid": duty.event.id})

    def _forget(self, eid: int) -> None:
        duty = self.open.pop(eid)
        if duty.fact is not None:
            self.engine.retract_fact(self.name, duty.fact)

    def _joined(self, matches: list[Match]) -> list[Outcome]:
        outcomes = []
        for match in matches:
            duty = self.open.get(match.messages["e"]["eid"]) if match.ruleset == self.name \
                else None
            if duty is None:
                continue
            follow = match.messages["f"]
            when = float(follow["when"])
            if self.rule.params.strictly_after and when <= duty.event.t:
                continue
            groups = {int(g) for g in str(follow["groups"]).split(",")}
            outcomes += self._meet(duty, groups, when)
        return outcomes

    def _meet(self, duty: Obligation, groups: set[int], when: float) -> list[Outcome]:
        if when <= duty.due:
            duty.missing -= groups
            if duty.found and not duty.missing:
                duty.found = False  # a follow-up in time arrived late: no violation
                return [Outcome("withdrawn", self._violation(duty))]
            return []
        duty.late_groups |= groups
        duty.late_when = when if duty.late_when is None else min(duty.late_when, when)
        for group in groups:
            duty.late_by_group[group] = min(duty.late_by_group.get(group, when), when)
        return self._remedy(duty)

    def _remedy(self, duty: Obligation) -> list[Outcome]:
        """A found violation whose every missing group came late is marked remedied."""
        if duty.found and duty.remedied_at is None and duty.late_groups >= duty.missing:
            duty.remedied_at = duty.late_when
            return [Outcome("remedied", self._violation(duty), duty.late_when)]
        return []

    def _violation(self, duty: Obligation) -> Any:
        return violation(self.rule, duty.event, self.license, self._derive(duty))

    def _derive(self, duty: Obligation) -> Derive | None:
        """Return the derived fields (on-hand) and, once remedied, when each group's
        follow-up came (`follow_up_<i>`): the finding is late, not missing."""
        if not self.rule.params.late_message:
            return duty.derive

        def derive(name: str) -> Any:
            if not name.startswith("follow_up_"):
                return duty.derive(name) if duty.derive is not None else None
            if duty.remedied_at is None:
                return None
            group = int(name.removeprefix("follow_up_"))
            # A group met in time came before the deadline: any time before it will do.
            when = duty.late_by_group.get(group, duty.due)
            return datetime.fromtimestamp(when, UTC)

        return derive

    def expire(self, watermark: float) -> list[Outcome]:
        """Find the obligations whose deadline the clock passed unmet; forget old ones."""
        outcomes = []
        for eid, duty in list(self.open.items()):
            if duty.due <= watermark and not duty.found and duty.missing:
                duty.found = True
                outcomes.append(Outcome("found", self._violation(duty)))
                outcomes += self._remedy(duty)
            elif duty.due <= watermark and (not duty.missing
                                            or duty.due + self.keep_for < watermark):
                self._forget(eid)  # settled in time, or past waiting for a late remedy
        kept = []
        for fact in self.follow_ups:
            if fact["when"] + self.keep_for < watermark:
                self.engine.retract_fact(self.name, fact)
            else:
                kept.append(fact)
        self.follow_ups = kept
        return outcomes
