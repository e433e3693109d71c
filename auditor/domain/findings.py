"""Findings: what a rule found, with the evidence that decided it and a plain explanation."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from auditor.domain.rules import Rule, Severity


@dataclass(frozen=True)
class Violation:
    """The raw result of evaluating a rule: the triggering event and its decisive fields."""

    event_id: int
    event_type: str
    occurred_at: datetime
    package_label: str | None
    reference: str | None
    fields: Mapping[str, Any]
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True)
class Unjudged:
    """An event a rule could not judge: nothing yet told its package's state."""

    event_id: int
    event_type: str
    occurred_at: datetime
    package_label: str | None
    reference: str | None


@dataclass(frozen=True)
class Evaluation:
    """A rule's result over a period: its violations, obligations still pending, and the
    events it could not judge (their package's state unknown at the time)."""

    violations: list[Violation]
    pending: int = 0  # deadlines after the period's end, not yet met: not violations
    undetermined: tuple[Unjudged, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A violation of a rule version, explained, with a stable identity across reruns."""

    rule_id: str
    rule_version: int
    severity: Severity
    occurred_at: datetime
    package_label: str | None
    subject: str | None
    message: str
    evidence: tuple[int, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> str:
        """Return what makes two findings the same: rule, version, subject and trigger."""
        parts = [self.rule_id, str(self.rule_version), self.subject or "",
                 self.package_label or "", str(self.evidence[0] if self.evidence else "")]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<{key}?>"


def explain(rule: Rule, violation: Violation, zone: ZoneInfo) -> Finding:
    """Turn a violation into a finding whose message names the facts in local time."""
    values: dict[str, Any] = {k: _local(v, zone) for k, v in violation.fields.items()}
    values.update(package_label=violation.package_label, reference=violation.reference,
                  occurred_at=_local(violation.occurred_at, zone),
                  event_type=violation.event_type.replace("_", " "))
    template = rule.params.message
    if violation.fields.get("timeliness") == "late" and getattr(rule.params, "late_message", None):
        template = rule.params.late_message  # late, not missing: another remedy
    message = string.Formatter().vformat(template, (), _Blank(values))
    return Finding(rule.id, rule.version, rule.severity, violation.occurred_at,
                   violation.package_label, violation.reference or violation.package_label,
                   message, violation.evidence or (violation.event_id,),
                   dict(violation.fields))


def identity_of(rule: Rule, violation: Violation) -> str:
    """Return the identity `explain(rule, violation, ...)` gives, without its message."""
    return Finding(rule.id, rule.version, rule.severity, violation.occurred_at,
                   violation.package_label, violation.reference or violation.package_label,
                   "", violation.evidence or (violation.event_id,)).identity


def _local(value: Any, zone: ZoneInfo) -> Any:
    """Render a time (a datetime or ISO text) in the license's zone for people to read,
    and a number as people write it (39, not 39.0; 3.5; at most three decimals)."""
    if isinstance(value, float):
        return readable_number(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return value


def readable_number(value: float) -> str:
    """Return a number as people write it: whole numbers without decimals, at most three."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
