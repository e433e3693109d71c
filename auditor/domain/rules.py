"""Compliance rules as data: metadata, one template, its parameters, and test cases.

A rule pack is a versioned set of rules with shared parameters (windows, tolerances,
limits). A state pack extends the core pack: it overrides parameters and adds rules.
A pack's content hash covers every rule and parameter, so a finding can name exactly
the rules that produced it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from auditor.domain.errors import InvalidInput
from auditor.domain.events import canonical_json

METRC = "METRC"  # the jurisdiction of a citation that is METRC's own requirement


class Severity(StrEnum):
    """How much a violation matters, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Template(StrEnum):
    """The shapes a rule can take (rules/README.md; registered in `rules.templates`).

    "Every item of a group before the group closes" is a requires_prior rule whose
    event is the item's closing (e.g. a manifest package accepted) and whose prior is
    the item's check (its receiving scan): see manifest-package-unscanned.
    """

    FIELD_CHECK = "field_check"
    REQUIRES_PRIOR = "requires_prior"
    REQUIRES_WITHIN = "requires_within"
    RECONCILE = "reconcile"
    STATE_AT_TIME = "state_at_time"
    AGGREGATE = "aggregate"
    FULL_COUNT_INTERVAL = "full_count_interval"


@dataclass(frozen=True)
class Citation:
    """The regulation a rule enforces, where to read it, and whose it is.

    `jurisdiction` is METRC (the track-and-trace system's own requirement, in force in
    every state) or the state whose regulation it is: a license's packet cites METRC's
    and its own state's only.
    """

    regulation: str
    url: str | None = None
    jurisdiction: str = METRC


@dataclass(frozen=True)
class RuleCase:
    """A rule's worked example: given these events, exactly these findings."""

    name: str
    events: tuple[Mapping[str, Any], ...]
    expect: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Rule:
    """One compliance rule: metadata, a template and its (resolved) parameters.

    `params` is the template's typed parameters (`rules.params`); `spec` is the same
    parameters as validated from the file, which the pack's content hash covers.
    """

    id: str
    title: str
    version: int
    severity: Severity
    template: Template
    params: Any
    citations: tuple[Citation, ...]
    description: str
    remediation: str
    jurisdictions: tuple[str, ...] = ("*",)
    effective_from: date | None = None
    effective_to: date | None = None
    cases: tuple[RuleCase, ...] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)
    # Why the pack's state cites nothing for this rule (its citation table says so);
    # None when it does, or for the core pack alone.
    uncited: str | None = None
    # What remedies a finding (`rules.params.Correction`): declared, or the template's own.
    corrected_by: Any = None

    def applies_to(self, state: str) -> bool:
        """Return whether the rule is in force for a state's licenses."""
        return "*" in self.jurisdictions or state in self.jurisdictions


@dataclass(frozen=True)
class Pack:
    """A versioned rule pack: its rules, parameters and content hash."""

    id: str
    version: int
    title: str
    rules: tuple[Rule, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    state: str | None = None
    excluded: Mapping[str, str] = field(default_factory=dict)  # rule id -> why not in force
    timezone: str | None = None  # the state's time zone (its rule cases run in it)

    @property
    def content_hash(self) -> str:
        """Return the SHA-256 of the pack's rules and parameters in canonical form."""
        return hashlib.sha256(canonical_json(_content(self)).encode()).hexdigest()


def _content(pack: Pack) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, date | timedelta):
            return str(value)
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
        return value

    return {"id": pack.id, "version": pack.version, "parameters": plain(pack.parameters),
            "excluded": plain(pack.excluded),
            "rules": [_rule_content(rule, plain)
                      for rule in sorted(pack.rules, key=lambda r: r.id)]}


def _rule_content(rule: Rule, plain: Any) -> dict[str, Any]:
    """Return a rule's content as hashed: its fields, with the parameters as written."""
    content = {k: plain(getattr(rule, k)) for k in rule.__dataclass_fields__ if k != "spec"
               and not (k == "corrected_by" and rule.corrected_by is None)}
    content["params"] = plain(rule.spec)
    return content


_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?")


def parse_duration(text: str) -> timedelta:
    """Return an ISO 8601 duration of days and time (P7D, PT24H, P1DT12H) as a timedelta."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match or text in {"P", "PT"} or text.endswith("T"):
        raise InvalidInput(f"{text!r} is not an ISO 8601 duration such as PT24H or P30D")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


@dataclass(frozen=True)
class Deadline:
    """When an obligation falls due after the event that creates it.

    Either a plain duration ("PT24H": 24 hours later), or whole local days and a
    local clock time ("P1D at 08:00": 8 a.m. on the license's next calendar day,
    whatever the daylight-saving offset is that day).
    """

    after: timedelta
    at: time | None = None

    def describe(self) -> str:
        """Return the deadline in words: "24 h", "30 days", or "next-day 08:00"."""
        if self.at is None:
            return duration_text(self.after)
        days = self.after.days
        later = "next-day" if days == 1 else f"{days}-day"
        return f"{later} {self.at.strftime('%H:%M')}"

    def due(self, when: datetime, zone: ZoneInfo) -> datetime:
        """Return the instant the obligation of an event at `when` falls due."""
        if self.at is None:
            return when + self.after
        day = when.astimezone(zone).date() + self.after
        return datetime.combine(day, self.at, tzinfo=zone)


def duration_text(span: timedelta) -> str:
    """Return a duration as people read it: "26 h 47 min", "15 min", "2 h"."""
    minutes = int(abs(span).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:  # days, to the hour: "30 days", "3 days 4 h"
        days, hours = divmod(hours, 24)
        return ("-" if span < timedelta(0) else "") + f"{days} days" + (
            f" {hours} h" if hours else "")
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes or not hours else [])
    return ("-" if span < timedelta(0) else "") + " ".join(parts)


_CLOCK = re.compile(r"(?P<days>P\d+D) at (?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)")


def parse_deadline(text: str) -> Deadline:
    """Return a deadline: a duration ("PT24H") or local days at a clock time ("P1D at 08:00")."""
    clock = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if clock:
        return Deadline(parse_duration(clock["days"]),
                        time(int(clock["hour"]), int(clock["minute"])))
    try:
        return Deadline(parse_duration(text))
    except InvalidInput:
        raise InvalidInput(f"{text!r} is not a deadline: write a duration such as PT24H, "
                           "or local days and a clock time such as 'P1D at 08:00'") from None
