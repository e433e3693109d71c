"""The readiness audit: run every rule in force over a license's events for a period.

Readiness score: the severity-weighted share of rules in force with no finding in the
period (weights: critical 5, high 3, medium 2, low 1, info 0), as a whole percentage.
100 means no rule found anything; a single critical rule failing costs more than a
low one, however many findings either has.

Finding rate, the figure that moves as a store improves: findings per 1,000 events of
the period, in all and per rule, with the change since the license's previous run.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any

from auditor.domain.errors import InvalidInput
from auditor.domain.findings import Evaluation, Finding, Unjudged, explain
from auditor.domain.license import License
from auditor.domain.rules import Pack, Rule, Severity
from auditor.rules.templates import template_spec
from auditor.services.ports import EventStore, RuleEvaluator

WEIGHTS = {Severity.CRITICAL: 5, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1,
           Severity.INFO: 0}


@dataclass
class AuditReport:
    """One readiness audit: what ran, over what, and what it found."""

    run_id: str
    license: License
    pack: Pack
    start: date
    end: date
    rules: list[Rule]
    findings: list[Finding] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)  # rule id -> obligations still open
    # rule id -> the events it could not judge (their package's state was not yet known)
    undetermined: dict[str, tuple[Unjudged, ...]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # rule id -> evaluation time
    events: int = 0  # the license's events that occurred in the period
    previous: dict[str, Any] | None = None  # the license's previous run: id, finding rate

    @property
    def readiness_score(self) -> int:
        """Return the severity-weighted share of rules with no finding, 0-100."""
        failing = {f.rule_id for f in self.findings}
        total = sum(WEIGHTS[r.severity] for r in self.rules)
        passing = sum(WEIGHTS[r.severity] for r in self.rules if r.id not in failing)
        return round(100 * passing / total) if total else 100

    @property
    def finding_rate(self) -> float | None:
        """Return the findings per 1,000 events of the period (None: no events)."""
        return per_thousand(len(self.findings), self.events)

    def activity(self) -> dict[str, Any]:
        """Return the finding rate in all and per rule, and its change since the previous run."""
        by_rule = Counter(f.rule_id for f in self.findings)
        before = (self.previous or {}).get("findings_per_1000_events")
        rate = self.finding_rate
        return {"events": self.events, "findings_per_1000_events": rate,
                "per_rule_per_1000_events": {rule: per_thousand(n, self.events)
                                             for rule, n in sorted(by_rule.items())},
                "previous": self.previous,
                "change": None if before is None or rate is None else round(rate - before, 3)}

    def counts(self) -> dict[str, dict[str, int]]:
        """Return finding counts by severity and by rule."""
        return {"by_severity": dict(Counter(f.severity.value for f in self.findings)),
                "by_rule": dict(Counter(f.rule_id for f in self.findings)),
                "pending": {rule: n for rule, n in self.pending.items() if n},
                "undetermined": {rule: len(events) for rule, events in self.undetermined.items()
                                 if events}}

    def as_json(self) -> dict[str, Any]:
        """Return the report in the documented JSON shape."""
        return {
            "run_id": self.run_id, "license": self.license.number,
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "pack": {"id": self.pack.id, "version": self.pack.version,
                     "hash": self.pack.content_hash},
            "readiness_score": self.readiness_score, "activity": self.activity(),
            "counts": self.counts(),
            "findings": [{
                "rule_id": f.rule_id, "rule_version": f.rule_version,
                "severity": f.severity.value, "package_label": f.package_label,
                "subject": f.subject, "occurred_at": f.occurred_at.isoformat(),
                "message": f.message, "evidence": list(f.evidence),
                "fields": dict(f.fields)} for f in self.findings],
            "undetermined": [{
                "rule_id": rule, "event_id": u.event_id, "event_type": u.event_type,
                "occurred_at": u.occurred_at.isoformat(), "package_label": u.package_label,
                "reference": u.reference}
                for rule, events in sorted(self.undetermined.items()) for u in events],
        }


def per_thousand(count: int, events: int) -> float | None:
    """Return count per 1,000 events, to three decimals (None when there are no events)."""
    return round(1000 * count / events, 3) if events else None


def previous_run(store: EventStore, license_number: str) -> dict[str, Any] | None:
    """Return the license's latest stored run as the next run compares with it."""
    runs = store.runs.list(license_number)
    if not runs:
        return None
    activity = store.runs.get(runs[0]["id"]).get("activity") or {}
    return {"run_id": runs[0]["id"], "readiness_score": runs[0]["readiness_score"],
            "findings_per_1000_events": activity.get("findings_per_1000_events")}


def local_bounds(license: License, start: date, end: date) -> tuple[datetime, datetime]:
    """Return the UTC instants that open start and close end (inclusive) in the license's zone."""
    if end < start:
        raise InvalidInput(f"the period is empty: {end} is before {start}")
    zone = license.zone()
    opens = datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)
    closes = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return opens, closes


def rules_in_force(pack: Pack, license: License, start: date, end: date) -> list[Rule]:
    """Return the pack's rules that apply to the license's state at some time in the period."""
    return [r for r in pack.rules if r.applies_to(license.state)
            and (r.effective_from is None or r.effective_from <= end)
            and (r.effective_to is None or r.effective_to >= start)]


# Rules are independent read-only queries, so they run side by side: SQLite's WAL lets
# readers share the file and PostgreSQL gives each its own backend.
AUDIT_THREADS = min(4, os.cpu_count() or 1)


def run_audit(store: EventStore, pack: Pack, license_number: str, start: date,
              end: date, threads: int = AUDIT_THREADS,
              on_rule: Callable[[str, int, int], None] | None = None,
              engine: str = "sql") -> AuditReport:
    """Run every rule in force for the license over [start, end], explain and store the findings.

    on_rule(rule id, rules done, rules in all) is called as each rule finishes; engine
    picks where the rules run (ports.AUDIT_ENGINES): the findings are the same.
    """
    license = store.get_license(license_number)
    opens, closes = local_bounds(license, start, end)
    report = AuditReport(uuid.uuid4().hex, license, pack, start, end,
                         rules_in_force(pack, license, start, end))
    report.events = sum(store.event_counts(license.number, opens, closes).values())
    report.previous = previous_run(store, license.number)
    store.refresh_statistics()
    with store.audit_engine(license.number, engine) as evaluator:
        _evaluate_all(evaluator, report, opens, closes, threads, on_rule)
    report.findings.sort(key=lambda f: (f.occurred_at, f.rule_id, f.evidence))
    store.runs.save(report.as_json(), report.findings, datetime.now(UTC))
    return report


def _evaluate_all(evaluator: RuleEvaluator, report: AuditReport, opens: datetime,
                  closes: datetime, threads: int,
                  on_rule: Callable[[str, int, int], None] | None) -> None:
    """Evaluate the report's rules on parallel threads and add what each found."""
    license = report.license

    def evaluate(rule: Rule) -> tuple[Rule, Evaluation, float]:
        began = perf_counter()
        evaluation = evaluator.evaluate(license.number, rule, opens, closes)
        return rule, evaluation, perf_counter() - began

    # The costly templates start first, so the threads finish together.
    slow_first = sorted(report.rules, key=lambda r: -template_spec(r.template).cost)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for done, (rule, evaluation, seconds) in enumerate(pool.map(evaluate, slow_first), 1):
            if on_rule:
                on_rule(rule.id, done, len(slow_first))
            report.findings += [explain(rule, v, license.zone()) for v in evaluation.violations]
            report.pending[rule.id] = evaluation.pending
            report.undetermined[rule.id] = evaluation.undetermined
            report.seconds[rule.id] = seconds
