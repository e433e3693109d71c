"""Every condition operator, through both backends, on SQLite and PostgreSQL.

Each operator is put in a field_check rule over package snapshots whose fields cover
its true, false and unknown (missing field) answers; the batch (SQL) and continuous
findings must both equal the snapshots the operator fails, worked out by hand.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from auditor.domain.findings import explain
from auditor.rules.language import OPERATORS
from auditor.rules.loader import load_rule
from auditor.services.ingest import ingest
from tests.conftest import LICENSE
from tests.continuous.test_rule_cases import continuous_identities

T0 = datetime(2026, 3, 7, 8, tzinfo=UTC)
SNAPSHOTS = {  # tag suffix -> payload (a missing field is unknown: never satisfies)
    "A": {"quantity": 5, "lab_testing_state": "TestPassed", "is_on_hold": True,
          "expiration_date": "2026-03-10", "sublocation": "  broken jar  "},
    "B": {"quantity": 12.5, "lab_testing_state": "TestFailed", "is_on_hold": False,
          "expiration_date": "2026-04-01", "sublocation": ""},
    "C": {"lab_testing_state": "NotSubmitted"},
}
# operator -> (condition, the snapshots that FAIL it: each is a finding)
CONDITIONS = {
    "eq": ({"field": "quantity", "op": "eq", "value": 5}, "BC"),
    "ne": ({"field": "quantity", "op": "ne", "value": 5}, "AC"),
    "lt": ({"field": "quantity", "op": "lt", "value": 10}, "BC"),
    "le": ({"field": "quantity", "op": "le", "value": 5}, "BC"),
    "gt": ({"field": "quantity", "op": "gt", "value": 10}, "AC"),
    "ge": ({"field": "expiration_date", "op": "ge", "value": "2026-03-10"}, "C"),
    "in": ({"field": "lab_testing_state", "op": "in", "value": ["TestPassed", "NotSubmitted"]},
           "B"),
    "not_in": ({"field": "lab_testing_state", "op": "not_in", "value": ["TestPassed"]}, "A"),
    "matches": ({"field": "lab_testing_state", "op": "matches", "value": "^Test"}, "C"),
    "not_matches": ({"field": "lab_testing_state", "op": "not_matches", "value": "Failed$"},
                    "B"),
    "empty": ({"field": "sublocation", "op": "empty"}, "A"),
    "not_empty": ({"field": "sublocation", "op": "not_empty"}, "BC"),
    "length_between": ({"field": "sublocation", "op": "length_between", "value": [5, 20]}, "BC"),
    "is_true": ({"field": "is_on_hold", "op": "is_true"}, "BC"),
    "is_false": ({"field": "is_on_hold", "op": "is_false"}, "AC"),
}


def test_every_operator_of_the_language_is_covered():
    assert set(CONDITIONS) == set(OPERATORS)


def rule_for(tmp_path, op):
    condition, _ = CONDITIONS[op]
    path = tmp_path / f"op-{op.replace('_', '-')}.yaml"
    path.write_text(yaml.safe_dump({
        "id": path.stem, "title": op, "version": 1, "severity": "low",
        "citations": [{"regulation": "test"}], "description": op, "remediation": op,
        "template": "field_check",
        "params": {"event": {"type": ["package_snapshot"]}, "require": [condition],
                   "message": f"{{package_label}} fails {op}"}}))
    return load_rule(path, {})


@pytest.mark.parametrize("op", OPERATORS)
def test_both_backends_judge_each_operator_alike(sql_store, tmp_path, op):
    rule = rule_for(tmp_path, op)
    lines = [json.dumps({"type": "package_snapshot", "occurred_at": T0.isoformat(),
                         "natural_key": f"snap-{name}",
                         "package_label": f"1A400000000000000000000{name}",
                         "reference": None, "payload": payload})
             for name, payload in SNAPSHOTS.items()]
    summary = ingest(sql_store, LICENSE.number, "events", "ops.ndjson", "\n".join(lines).encode())
    assert summary.rejected == 0, summary.rejections
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    batch = sql_store.evaluate(LICENSE.number, rule, start, end).violations
    assert sorted(v.package_label[-1] for v in batch) == sorted(CONDITIONS[op][1])
    expected = sorted(explain(rule, v, LICENSE.zone()).identity for v in batch)
    assert continuous_identities(sql_store, LICENSE, rule, end) == expected
