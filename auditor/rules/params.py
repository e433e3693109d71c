"""Typed rule parameters: what each template's `params` becomes once validated.

The schemas in `rules.schema` validate a rule file; `build` turns the validated mapping
into these frozen dataclasses, so both backends read `params.deadline` (a Deadline),
`params.event.where` (Conditions), never `params["..."]`. Durations and deadlines are
parsed once, here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from auditor.domain.rules import Deadline, parse_deadline, parse_duration


@dataclass(frozen=True)
class Condition:
    """`field op value`, `field op other` (shifted, within a tolerance), or `any` of several."""

    field: str = ""
    op: str = ""
    value: Any = None
    other: str | None = None
    tolerance: float | None = None
    shift: timedelta | None = None
    any: tuple[Condition, ...] = ()
    label: str | None = None  # what a failure means, in words (a message's `{failed}`)


Conditions = tuple[Condition, ...]


@dataclass(frozen=True)
class EventRef:
    """Which events a rule looks at: types, narrowed by all `where` and any `where_any`."""

    type: tuple[str, ...]
    where: Conditions = ()
    where_any: Conditions = ()
    only_known_packages: bool = False
    first_per: str | None = None

    @property
    def any_type(self) -> bool:
        """Return whether the reference takes events of every type (that carry a tag)."""
        return "*" in self.type


@dataclass(frozen=True)
class PriorMatch:
    """A field of the event that must equal a field of its prior."""

    event: str
    prior: str


@dataclass(frozen=True)
class FollowUpMatch:
    """A field of the event that must equal a field of its follow-up."""

    event: str
    follow_up: str


@dataclass(frozen=True)
class SidesMatch:
    """A field of the left record that must equal a field of the right one."""

    left: str
    right: str


@dataclass(frozen=True)
class Compare:
    """Two fields that must agree, numbers within a tolerance."""

    left: str
    right: str
    tolerance: float | None = None


@dataclass(frozen=True)
class FieldCheckParams:
    """field_check: every selected event meets every `require` condition."""

    event: EventRef
    require: Conditions
    message: str
    finding_time: str | None = None


@dataclass(frozen=True)
class RequiresPriorParams:
    """requires_prior: every selected event has a counterpart with equal `match` fields."""

    event: EventRef
    prior: EventRef
    match: tuple[PriorMatch, ...]
    message: str
    when: str = "before"
    within: timedelta | None = None
    in_force_by: str | None = None

    @property
    def ever(self) -> bool:
        """Return whether a counterpart at any time will do."""
        return self.when == "ever"


@dataclass(frozen=True)
class RequiresWithinParams:
    """requires_within: every selected event has a later follow-up by its deadline."""

    event: EventRef
    follow_up: EventRef
    deadline: Deadline
    message: str
    match: tuple[FollowUpMatch, ...] = ()
    follow_up_time: str = "occurred_at"
    strictly_after: bool = False
    date_by_deadline: bool = False
    license_level: bool = False
    each_of: tuple[Conditions, ...] = ()
    late_message: str | None = None  # every follow-up came, after the deadline

    @property
    def groups(self) -> tuple[Conditions, ...]:
        """Return the groups of conditions each needing a follow-up (one empty group by default)."""
        return self.each_of or ((),)


@dataclass(frozen=True)
class ReconcileParams:
    """reconcile: where both sides record the same thing, `compare` agrees."""

    left: EventRef
    right: EventRef
    match: tuple[SidesMatch, ...]
    compare: tuple[Compare, ...]
    message: str


@dataclass(frozen=True)
class StateAtTimeParams:
    """state_at_time: each selected event meets `require` against its package's state."""

    event: EventRef
    require: Conditions
    message: str
    state_from: tuple[str, ...] = ("package_snapshot",)


@dataclass(frozen=True)
class Source:
    """Events that add to (or take from) a running total; `from_start` ones count first."""

    type: str
    where: Conditions = ()
    add: str | None = None
    subtract: str | None = None
    multiply_by: str | None = None
    from_start: bool = False

    @property
    def measure(self) -> str:
        """Return the field whose value the source adds or subtracts."""
        return self.add or self.subtract or ""


@dataclass(frozen=True)
class Equivalent:
    """How much of a limit one kind of product uses: its measure divided by `per`."""

    per: float
    where: Conditions = ()
    multiply_by: str | None = None


@dataclass(frozen=True)
class Limit:
    """One running total over the sources' events that match `where`, and its bound."""

    name: str = "total"
    where: Conditions = ()
    equivalents: tuple[Equivalent, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def terms(self) -> tuple[Equivalent, ...]:
        """Return the equivalents, or one that counts every amount as it is."""
        return self.equivalents or (Equivalent(1.0),)


@dataclass(frozen=True)
class AggregateParams:
    """aggregate: running totals per group stay within each limit's bounds."""

    sources: tuple[Source, ...]
    limits: tuple[Limit, ...]
    report: tuple[str, ...]
    message: str
    group_by: tuple[str, ...] = ("package_label",)
    subject: str | None = None
    license_level: bool = False


@dataclass(frozen=True)
class Correction:
    """What remedies a finding: the first `event` after its trigger whose `match` fields
    equal the trigger's, up to the audit's end."""

    event: EventRef
    match: tuple[FollowUpMatch, ...] = ()
    time: str = "occurred_at"  # the corrective event's time field (when METRC recorded it)


def correction_of(template: str, params: Any, declared: Correction | None) -> Correction | None:
    """Return a rule's corrective event: as declared, else a prior or follow-up that came
    after the trigger (a scan later, a location change after the move, a late report)."""
    if declared is not None:
        return declared
    if template == "requires_prior" and not params.ever:
        return Correction(params.prior, tuple(FollowUpMatch(m.event, m.prior)
                                              for m in params.match))
    if template == "requires_within":
        return Correction(params.follow_up, params.match, params.follow_up_time)
    return None


Params = (FieldCheckParams | RequiresPriorParams | RequiresWithinParams | ReconcileParams
          | StateAtTimeParams | AggregateParams)
PARSERS: dict[type, Any] = {timedelta: parse_duration, Deadline: parse_deadline}


def build(kind: Any, data: Any) -> Any:
    """Return validated data (mappings, lists, strings) as the typed value of `kind`."""
    if data is None:
        return None
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        return build(kinds[0], data) if len(kinds) == 1 else data
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(build(item, value) for value in data)
    if kind in PARSERS:
        return PARSERS[kind](data)
    if isinstance(kind, type) and is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{f.name: build(hints[f.name], data[f.name])
                       for f in fields(kind) if f.name in data})
    if kind is float:
        return float(data)
    return data


@cache
def _hints(kind: type) -> Mapping[str, Any]:
    return typing.get_type_hints(kind)
