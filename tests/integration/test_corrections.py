"""A remedied finding says by what and when: the corrective event is in its evidence.

Evaluated on SQLite and PostgreSQL (and the DuckDB copy): a count variance corrected by
a METRC adjustment, a move whose location change came after it, and a report after its
deadline each name the event that remedied them; one with no remedy yet names none, and
a remedy after the audit's end is not counted.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.ingest import ingest
from auditor.services.ports import AUDIT_ENGINES
from tests.conftest import LICENSE

TAG, OTHER = "1A4000000000000000000001", "1A4000000000000000000002"
RULES = {rule.id: rule for rule in load_pack(default_rules_dir(), "CA").rules}
T0 = datetime(2026, 1, 5, 17, tzinfo=UTC)  # 09:00 PST


def at(hours):
    return (T0 + timedelta(hours=hours)).isoformat()


EVENTS = [
    {"type": "manifest_package", "occurred_at": at(0), "package_label": TAG, "reference": "M1",
     "payload": {"label": TAG, "shipment_state": "Accepted", "received_quantity": 10}},
    {"type": "manifest_package", "occurred_at": at(0), "package_label": OTHER,
     "reference": "M1", "payload": {"label": OTHER, "shipment_state": "Accepted",
                                    "received_quantity": 10}},
    # Counted short; METRC adjusted 2 h later: count-variance, corrected by the adjustment.
    {"type": "count_line", "occurred_at": at(4), "package_label": TAG, "reference": "C-1",
     "payload": {"label": TAG, "count_id": "C-1", "counted_quantity": 9, "unit": "Each"}},
    {"type": "adjustment", "occurred_at": at(6), "package_label": TAG, "reference": "ADJ-7",
     "payload": {"label": TAG, "quantity": -1, "unit": "Each", "reason": "Entry Error",
                 "note": "Count C-1 came up short"}},
    # The other package counted short with no adjustment yet: not remedied.
    {"type": "count_line", "occurred_at": at(4), "package_label": OTHER, "reference": "C-1",
     "payload": {"label": OTHER, "count_id": "C-1", "counted_quantity": 8, "unit": "Each"}},
    # Moved to the floor; METRC's location change came 25 min after the move.
    {"type": "move", "occurred_at": at(1), "package_label": TAG, "reference": "MV-1",
     "payload": {"label": TAG, "from_location": "Vault", "to_location": "Sales Floor"}},
    {"type": "location_change", "occurred_at": at(1.5), "package_label": TAG,
     "reference": "LC-1", "payload": {"label": TAG, "location": "Sales Floor"}},
]


def load(store):
    lines = "\n".join(json.dumps({"natural_key": f"k{i}", "reference": None, **e})
                      for i, e in enumerate(EVENTS))
    summary = ingest(store, LICENSE.number, "events", "c.ndjson", lines.encode())
    assert summary.rejected == 0, summary.rejections


def evaluate(store, rule_id, engine, end):
    with store.audit_engine(LICENSE.number, engine) as evaluator:
        return evaluator.evaluate(LICENSE.number, RULES[rule_id], T0 - timedelta(days=1),
                                  end).violations


@pytest.mark.parametrize("engine", AUDIT_ENGINES)
def test_a_count_variance_names_the_adjustment_that_corrected_it(sql_store, engine):
    load(sql_store)
    found = {v.package_label: v.fields for v in
             evaluate(sql_store, "count-variance", engine, T0 + timedelta(days=2))}
    assert set(found) == {TAG, OTHER}
    assert found[TAG]["corrected_by_type"] == "adjustment"
    assert found[TAG]["corrected_by_reference"] == "ADJ-7"
    assert datetime.fromisoformat(found[TAG]["corrected_at"]) == T0 + timedelta(hours=6)
    assert isinstance(found[TAG]["corrected_by_event"], int)
    assert "corrected_by_type" not in found[OTHER]  # nothing has remedied it yet


@pytest.mark.parametrize("engine", AUDIT_ENGINES)
def test_a_remedy_after_the_audit_end_is_not_counted(sql_store, engine):
    load(sql_store)
    found = evaluate(sql_store, "count-variance", engine, T0 + timedelta(hours=5))
    assert [v.fields.get("corrected_by_type") for v in found] == [None, None]


def test_a_move_names_the_location_change_that_came_after_it(sql_store):
    load(sql_store)
    [found] = evaluate(sql_store, "transfer-before-move", "sql", T0 + timedelta(days=2))
    assert (found.fields["corrected_by_type"], found.fields["corrected_by_reference"]) == (
        "location_change", "LC-1")
    assert datetime.fromisoformat(found.fields["corrected_at"]) == T0 + timedelta(hours=1.5)
