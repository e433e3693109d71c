"""Every case of every rule, through the batch (SQL) backend, on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from auditor.domain.findings import explain
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.ingest import ingest
from tests.conftest import LICENSE

CASES = [(rule, case) for rule in load_pack(default_rules_dir()).rules for case in rule.cases]


def as_event(number, event):
    return {"natural_key": f"case-{number}", "reference": None, "package_label": None, **event}


def project(finding, keys):
    values = {"package_label": finding.package_label, "subject": finding.subject,
              "occurred_at": finding.occurred_at}
    return tuple(values[k] for k in keys)


def expected(expect, keys):
    def value(entry, key):
        raw = entry[key]
        return datetime.fromisoformat(raw).astimezone(UTC) if key == "occurred_at" else raw
    return sorted(tuple(value(e, k) for k in keys) for e in expect)


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}: {c.name}" for r, c in CASES])
def test_rule_case(sql_store, rule, case):
    lines = "\n".join(json.dumps(as_event(i, e)) for i, e in enumerate(case.events))
    summary = ingest(sql_store, LICENSE.number, "events", "case.ndjson", lines.encode())
    assert summary.rejected == 0, summary.rejections
    times = [datetime.fromisoformat(e["occurred_at"]) for e in case.events]
    found = sql_store.evaluate(LICENSE.number, rule, min(times) - timedelta(days=1),
                               max(times) + timedelta(days=2))
    findings = [explain(rule, v, LICENSE.zone()) for v in found.violations]
    keys = sorted({k for e in case.expect for k in e}) or ["package_label", "occurred_at"]
    assert sorted(project(f, keys) for f in findings) == expected(case.expect, keys)
    for finding in findings:
        assert "<" not in finding.message, f"message names an unknown field: {finding.message}"


def test_every_rule_has_a_passing_and_a_failing_case():
    for rule in load_pack(default_rules_dir()).rules:
        assert any(not c.expect for c in rule.cases), f"{rule.id} has no passing case"
        assert any(c.expect for c in rule.cases), f"{rule.id} has no failing case"
