"""The packet says what remedied each finding: the corrective event's type, reference and
local time, in the PDF's incidents and the XLSX's Incidents and finding sheets.

The sample store fixes its planted count variance and sale quantity mismatch with METRC
adjustments, records a move's location change after the move, and reports a sale late.
"""

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.packets import PacketDocuments
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store
from auditor.services.packets import PacketSources, current_packet, render_packet
from auditor.services.report_fakes import InMemoryPacketRecords
from auditor.store.report_queries import SqlActivityLog

LICENSE = "C10-0000123-LIC"
ZONE = ZoneInfo("America/Los_Angeles")  # the sample store's


@pytest.fixture(scope="module")
def packet(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("corrections")
    generate_store(root / "store", StoreSpec(days=7, receipts_per_day=8))
    store = open_store(Settings(database_url=f"sqlite:///{root / 'a.db'}"), migrate=True)
    load_sample_store(store, root / "store")
    pack = load_pack(default_rules_dir(), "CA")
    run = run_audit(store, pack, LICENSE, date(2026, 1, 1), date(2026, 1, 7)).as_json()
    sources = PacketSources(store, SqlActivityLog(store.engine), InMemoryPacketRecords())
    yield run, current_packet(sources, run["run_id"], pack, "tester")
    store.engine.dispose()


def said(finding):
    """Return what the packet must say of a remedied finding's corrective event."""
    fields = finding["fields"]
    when = datetime.fromisoformat(fields["corrected_at"]).astimezone(ZONE)
    return (f"at {when.strftime('%Y-%m-%d %H:%M %Z')}" if fields.get("timeliness") != "late"
            else "", f"by {fields['corrected_by_type'].replace('_', ' ')} "
            f"{fields['corrected_by_reference'] or 'event ' + str(fields['corrected_by_event'])}")


def test_remedied_findings_say_by_what_and_when_in_the_pdf_and_the_xlsx(packet):
    run, built = packet
    remedied = [f for f in run["findings"] if f["fields"].get("corrected_by_type")]
    kinds = {(f["rule_id"], f["fields"]["corrected_by_type"]) for f in remedied}
    assert {("count-variance", "adjustment"), ("sale-quantity-mismatch", "adjustment"),
            ("transfer-before-move", "location_change")} <= kinds
    book = openpyxl.load_workbook(io.BytesIO(render_packet(built, "xlsx", PacketDocuments())))
    incidents = [[c.value for c in row] for row in book["Incidents"].iter_rows(min_row=2)]
    pdf = pypdf.PdfReader(io.BytesIO(render_packet(built, "pdf", PacketDocuments())))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in pdf.pages))
    for finding in remedied:
        row = next(r for r in incidents if r[3] == finding["subject"]
                   and finding["rule_id"] in r[4])
        when, by = said(finding)
        assert f"{finding['rule_id']}: corrected" in row[6]
        assert when in row[6] and by in row[6], (row[6], when, by)
        assert re.sub(r"\s+", "", by) in text and re.sub(r"\s+", "", when) in text
        sheet = next(book[n] for n in book.sheetnames if n.startswith(finding["rule_id"][:25]))
        evidence = [row[7].value for row in sheet.iter_rows(min_row=2)]
        assert any(finding["fields"]["corrected_by_type"] in (e or "") for e in evidence)
    # A finding nothing remedied says nothing of a correction.
    plain = [f for f in run["findings"] if not f["fields"].get("corrected_by_type")
             and f["fields"].get("timeliness") != "late"]
    assert plain
    for finding in plain:
        rows = [r for r in incidents if r[3] == finding["subject"]
                and r[4] == finding["rule_id"]]
        assert all(r[6] is None for r in rows)
