"""A package's state from all the evidence; events no evidence covers are counted, not lost.

A sale with nothing recorded before it about its package (no accepted manifest line, no
METRC location change or package list) cannot be judged by the state rules: the audit
counts it as undetermined, and the packet lists it.
"""

import io
import json
from datetime import date

import openpyxl
import pypdf

from auditor.bootstrap import open_store
from auditor.packets import PacketDocuments
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store
from auditor.services.ingest import ingest
from auditor.services.packets import PacketSources, current_packet, render_packet
from auditor.services.report_fakes import InMemoryPacketRecords
from auditor.store.report_queries import SqlActivityLog
from tests.conftest import LICENSE

KNOWN, UNKNOWN = "1A4000000000000000000001", "1A4000000000000000000077"
STATE_RULES = {"sale-outside-sales-floor", "sale-unsellable-package"}


def sale(key, label, when, receipt):
    return {"type": "pos_sale_line", "occurred_at": when, "natural_key": key,
            "package_label": label, "reference": receipt,
            "payload": {"receipt_id": receipt, "label": label, "quantity": 1, "unit": "Each",
                        "voided": False}}


EVENTS = [
    {"type": "manifest_package", "occurred_at": "2026-01-05T13:00:00-08:00", "natural_key": "m1",
     "package_label": KNOWN, "reference": "0000000001",
     "payload": {"label": KNOWN, "shipment_state": "Accepted", "received_quantity": 10,
                 "lab_testing_state": "TestPassed"}},
    sale("s1", KNOWN, "2026-01-05T19:00:00-08:00", "R1"),
    sale("s2", UNKNOWN, "2026-01-05T19:30:00-08:00", "R2"),
]


def test_a_sale_no_evidence_covers_is_counted_undetermined_and_listed_in_the_packet(sql_store):
    data = "\n".join(json.dumps(e) for e in EVENTS).encode()
    assert ingest(sql_store, LICENSE.number, "events", "e.ndjson", data).rejected == 0
    pack = load_pack(default_rules_dir(), "CA")
    report = run_audit(sql_store, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 31))
    # The sale after acceptance is judged (the vault is not the floor); the other is not.
    outside = [f for f in report.findings if f.rule_id == "sale-outside-sales-floor"]
    assert [(f.package_label, f.subject) for f in outside] == [(KNOWN, "R1")]
    assert report.counts()["undetermined"] == dict.fromkeys(STATE_RULES, 1)
    listed = report.as_json()["undetermined"]
    assert {(u["rule_id"], u["package_label"], u["reference"]) for u in listed} == {
        (rule, UNKNOWN, "R2") for rule in STATE_RULES}

    sources = PacketSources(sql_store, SqlActivityLog(sql_store.engine), InMemoryPacketRecords())
    packet = current_packet(sources, report.run_id, pack, "test")
    pdf = pypdf.PdfReader(io.BytesIO(render_packet(packet, "pdf", PacketDocuments())))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "Events not judged" in text and UNKNOWN in text
    workbook = openpyxl.load_workbook(io.BytesIO(render_packet(packet, "xlsx",
                                                               PacketDocuments())))
    sheet = workbook["Not judged"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert {(r[0], r[4], r[5]) for r in rows} == {(rule, UNKNOWN, "R2") for rule in STATE_RULES}


def test_a_clean_sample_store_has_no_state_findings(sql_settings, tmp_path):
    generate_store(tmp_path / "store", StoreSpec(days=10, receipts_per_day=40, plant=False))
    store = open_store(sql_settings, migrate=True)
    load_sample_store(store, tmp_path / "store")
    pack = load_pack(default_rules_dir(), "CA")
    report = run_audit(store, pack, LICENSE.number, date(2026, 1, 1), date(2026, 1, 10))
    assert not [f for f in report.findings if f.rule_id in STATE_RULES]
    store.engine.dispose()
