"""State packs change what the same activity means: windows, clock-time deadlines, limits.

Run through the SQL backend on SQLite and PostgreSQL, where the deadline arithmetic
happens, in each state's own time zone and across the spring daylight-saving change.
"""

import json
from datetime import datetime

from auditor.domain.license import License
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.ingest import ingest

OREGON = License("OR-TEST-1", "OR", "America/Los_Angeles", ("Sales Floor",), "Test", ("Vault",))
COLORADO = License("CO-TEST-1", "CO", "America/Denver", ("Sales Floor",), "Test", ("Vault",))
TAG = "1A4000000000000000000001"


def sale(receipt, sold_at, reported_at=None):
    """Return a POS sale line and, when reported, its METRC sale line."""
    pos = {"type": "pos_sale_line", "occurred_at": sold_at, "package_label": TAG,
           "reference": receipt, "natural_key": f"pos-{receipt}",
           "payload": {"receipt_id": receipt, "label": TAG, "quantity": 1, "unit": "Each",
                       "voided": False}}
    if reported_at is None:
        return [pos]
    metrc = {"type": "metrc_sale_line", "occurred_at": sold_at, "package_label": TAG,
             "reference": receipt, "natural_key": f"metrc-{receipt}",
             "payload": {"external_receipt_number": receipt, "label": TAG, "quantity": 1,
                         "unit": "Each", "recorded_at": reported_at}}
    return [pos, metrc]


def full_count(count_id, at):
    return {"type": "count_line", "occurred_at": at, "package_label": TAG, "reference": count_id,
            "natural_key": f"count-{count_id}",
            "payload": {"label": TAG, "count_id": count_id, "counted_quantity": 1, "unit": "Each"}}


def evaluate(store, license, rule_id, records, start, end):
    store.add_license(license)
    lines = "\n".join(json.dumps(r) for r in records).encode()
    assert ingest(store, license.number, "events", "state.ndjson", lines).rejected == 0
    rule = next(r for r in load_pack(default_rules_dir(), license.state).rules if r.id == rule_id)
    return store.evaluate(license.number, rule, datetime.fromisoformat(start),
                          datetime.fromisoformat(end))


def test_oregon_sales_are_due_in_metrc_by_8am_local_the_next_day(sql_store):
    # 7 March 2026, 8 p.m. PST; clocks spring forward that night, so 8 a.m. is PDT.
    records = [*sale("ON-TIME", "2026-03-07T20:00:00-08:00", "2026-03-08T07:59:00-07:00"),
               *sale("LATE", "2026-03-07T20:05:00-08:00", "2026-03-08T08:30:00-07:00"),
               *sale("NEVER", "2026-03-07T21:00:00-08:00"),
               *sale("NOT-YET-DUE", "2026-03-09T10:00:00-07:00")]
    found = evaluate(sql_store, OREGON, "pos-sale-unreported", records,
                     "2026-03-07T00:00:00-08:00", "2026-03-09T12:00:00-07:00")
    assert sorted(v.reference for v in found.violations) == ["LATE", "NEVER"]
    assert found.pending == 1


def test_colorado_sales_are_due_in_metrc_within_fifteen_minutes(sql_store):
    records = [*sale("PROMPT", "2026-01-05T10:00:00-07:00", "2026-01-05T10:14:00-07:00"),
               *sale("SLOW", "2026-01-05T11:00:00-07:00", "2026-01-05T11:20:00-07:00")]
    found = evaluate(sql_store, COLORADO, "pos-sale-unreported", records,
                     "2026-01-05T00:00:00-07:00", "2026-01-06T00:00:00-07:00")
    assert [v.reference for v in found.violations] == ["SLOW"]


def accepted(at):
    """Return the manifest line that puts TAG on hand in METRC (a full count must count it)."""
    return {"type": "manifest_package", "occurred_at": at, "package_label": TAG,
            "reference": "0000000001", "natural_key": "accepted-1",
            "payload": {"label": TAG, "shipment_state": "Accepted", "received_quantity": 5}}


def test_oregon_needs_a_full_count_every_day_dated_when_the_day_ran_out(sql_store):
    # A count is full by what it covers: METRC must have something on hand to count.
    records = [accepted("2026-03-01T09:00:00-08:00"),
               full_count("FULL-1", "2026-03-02T21:00:00-08:00"),
               full_count("FULL-2", "2026-03-03T23:59:00-08:00"),  # the next day: in time
               full_count("FULL-3", "2026-03-06T09:00:00-08:00")]  # skipped the 4th and 5th
    found = evaluate(sql_store, OREGON, "reconciliation-overdue", records,
                     "2026-03-01T00:00:00-08:00", "2026-03-06T12:00:00-08:00")
    assert [(v.reference, v.occurred_at) for v in found.violations] == [
        ("FULL-2", datetime.fromisoformat("2026-03-05T00:00:00-08:00"))]
    assert found.pending == 1  # FULL-3's next day has not ended yet
