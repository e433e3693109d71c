"""Audit runs: stored, read back unchanged, repeatable, and refused on bad input."""

import json
from datetime import date

import pytest
import sqlalchemy as sa

from auditor.cli import finding_rate_line
from auditor.domain.errors import InvalidInput, UnknownLicense
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.audit import run_audit
from auditor.services.ingest import ingest
from auditor.store.schema import audit_runs
from tests.conftest import LICENSE

TAG = "1A4000000000000000000001"
EVENTS = [
    {"type": "move", "occurred_at": "2026-01-05T10:00:00-08:00", "natural_key": "m1",
     "package_label": TAG, "payload": {"label": TAG, "to_location": "Sales Floor"}},
    {"type": "pos_sale_line", "occurred_at": "2026-01-06T12:00:00-08:00", "natural_key": "s1",
     "package_label": "1a4-bad", "reference": "R1",
     "payload": {"label": "1a4-bad", "receipt_id": "R1", "quantity": 1, "unit": "Each"}},
]


@pytest.fixture
def loaded(sql_store):
    data = "\n".join(json.dumps(e) for e in EVENTS).encode()
    assert ingest(sql_store, LICENSE.number, "events", "e.ndjson", data).accepted == 2
    return sql_store


def runs_stored(store):
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(audit_runs))


def test_rerunning_an_audit_gives_the_same_findings_and_score(loaded):
    pack = load_pack(default_rules_dir(), "CA")
    first = run_audit(loaded, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    again = run_audit(loaded, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    assert [f.identity for f in first.findings] == [f.identity for f in again.findings]
    assert first.readiness_score == again.readiness_score < 100
    assert {f.rule_id for f in first.findings} == {"transfer-before-move", "tag-invalid",
                                                   "untracked-package"}
    assert first.run_id != again.run_id


def test_a_stored_run_reads_back_exactly(loaded):
    pack = load_pack(default_rules_dir(), "CA")
    report = run_audit(loaded, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    assert loaded.runs.get(report.run_id) == json.loads(json.dumps(report.as_json()))
    assert [r["id"] for r in loaded.runs.list(LICENSE.number)] == [report.run_id]
    moved = report.as_json()["findings"][0]
    assert "was moved to Sales Floor at 2026-01-05 10:00 PST" in moved["message"]
    assert moved["fields"]["to_location"] == "Sales Floor"  # the facts frozen with the run


def test_the_period_is_the_license_local_calendar(loaded):
    pack = load_pack(default_rules_dir(), "CA")
    report = run_audit(loaded, pack, LICENSE.number, date(2026, 1, 6), date(2026, 1, 6))
    assert {f.package_label for f in report.findings} == {"1a4-bad"}


@pytest.mark.parametrize("license_number, start, end, error", [
    ("NOPE-1", date(2026, 1, 1), date(2026, 1, 31), UnknownLicense),
    (LICENSE.number, date(2026, 2, 1), date(2026, 1, 31), InvalidInput),
])
def test_bad_audit_requests_are_refused_and_store_nothing(loaded, license_number, start, end,
                                                          error):
    with pytest.raises(error):
        run_audit(loaded, load_pack(default_rules_dir(), "CA"), license_number, start, end)
    assert runs_stored(loaded) == 0


def test_an_obligation_whose_deadline_is_after_the_cutoff_is_pending_not_a_finding(sql_store):
    late_sale = {"type": "pos_sale_line", "occurred_at": "2026-01-31T20:00:00-08:00",
                 "natural_key": "s9", "package_label": TAG, "reference": "R9",
                 "payload": {"label": TAG, "receipt_id": "R9", "quantity": 1, "unit": "Each",
                             "voided": False}}
    ingest(sql_store, LICENSE.number, "events", "e.ndjson", json.dumps(late_sale).encode())
    pack = load_pack(default_rules_dir(), "CA")
    january = run_audit(sql_store, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    assert "pos-sale-unreported" not in {f.rule_id for f in january.findings}
    assert january.as_json()["counts"]["pending"] == {"pos-sale-unreported": 1}
    later = run_audit(sql_store, pack, LICENSE.number, date(2026, 1, 1), date(2026, 2, 2))
    assert "pos-sale-unreported" in {f.rule_id for f in later.findings}


def test_the_finding_rate_moves_as_the_store_improves_and_compares_with_the_last_run(loaded):
    pack = load_pack(default_rules_dir(), "CA")
    first = run_audit(loaded, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    activity = first.as_json()["activity"]
    assert activity["events"] == 2 and activity["previous"] is None
    assert activity["findings_per_1000_events"] == round(1000 * len(first.findings) / 2, 3)
    assert sum(activity["per_rule_per_1000_events"].values()) == pytest.approx(
        activity["findings_per_1000_events"])
    # The store records the missing METRC location change: fewer findings, same events
    # counted over a wider period, and the change says it improved.
    good = {"type": "location_change", "occurred_at": "2026-01-05T09:00:00-08:00",
            "natural_key": "lc1", "package_label": TAG,
            "payload": {"label": TAG, "location": "Sales Floor"}}
    assert ingest(loaded, LICENSE.number, "events", "fix.ndjson",
                  json.dumps(good).encode()).accepted == 1
    second = run_audit(loaded, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    after = second.as_json()["activity"]
    assert after["previous"] == {"run_id": first.run_id, "readiness_score":
                                 first.readiness_score, "findings_per_1000_events":
                                 activity["findings_per_1000_events"]}
    assert after["events"] == 3 and after["change"] < 0
    assert "transfer-before-move" not in after["per_rule_per_1000_events"]
    line = finding_rate_line(after)
    assert line.startswith(f"findings per 1,000 events {after['findings_per_1000_events']} "
                           "(3 events); previous run ")
    assert line.endswith("(fewer: improving)")
