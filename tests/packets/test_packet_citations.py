"""A packet for a license cites that license's state (and METRC) only, read from the PDF
and the Excel workbook."""

import io
from datetime import UTC, datetime

import openpyxl
import pypdf
import pytest

from auditor.packets import PacketDocuments
from auditor.rules.loader import default_rules_dir, load_pack, state_packs
from auditor.services.packets import render_packet, rule_json
from auditor.services.report_ports import PacketVersion
from tests.unit.test_citations import foreign_markers

ZONES = {"CA": "America/Los_Angeles", "CO": "America/Denver", "MI": "America/Detroit",
         "OR": "America/Los_Angeles", "MA": "America/New_York"}


def packet_of(state: str) -> PacketVersion:
    """Return a packet of a license in `state` with one finding of every rule in force."""
    pack = load_pack(default_rules_dir(), state)
    findings = [{"rule_id": r.id, "rule_version": r.version, "severity": r.severity.value,
                 "occurred_at": "2026-01-05T20:00:00+00:00", "package_label": None,
                 "subject": "S1", "message": f"{r.id} found", "evidence": [1], "fields": {}}
                for r in pack.rules]
    run = {"run_id": "run-1", "period": {"from": "2026-01-01", "to": "2026-01-07"},
           "pack": {"id": pack.id, "version": pack.version, "hash": pack.content_hash},
           "readiness_score": 0, "findings": findings,
           "counts": {"by_rule": {r.id: 1 for r in pack.rules},
                      "by_severity": {"critical": len(findings)}}}
    content = {"format": "auditor-packet/1", "run": run, "run_created_at": "2026-01-08T00:00:00",
               "license": {"number": f"{state}-LIC-1", "state": state, "business_name": "Shop",
                           "timezone": ZONES[state]},
               "rules": [rule_json(r) for r in pack.rules], "rules_from_run_pack": True,
               "trend": [], "waivers": [], "logs": []}
    return PacketVersion("run-1", 1, "0" * 64, content, datetime(2026, 1, 8, tzinfo=UTC),
                         "tester", "first version", [], None)


@pytest.mark.slow
@pytest.mark.parametrize("state", state_packs(default_rules_dir()))
def test_the_pdf_of_a_states_license_cites_no_other_state(state):
    packet = packet_of(state)
    pdf = pypdf.PdfReader(io.BytesIO(render_packet(packet, "pdf", PacketDocuments())))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert foreign_markers(state, text) == []
    uncited = [r for r in packet.content["rules"] if r["uncited"]]
    assert text.count(f"No {state} regulation cited") == len(uncited)
    cited = [c for r in packet.content["rules"] for c in r["citations"]]
    assert cited and all(c["regulation"].split(" (")[0] in text for c in cited)


@pytest.mark.parametrize("state", ["CA", "MI"])
def test_the_workbook_lists_each_rules_citations_or_why_none(state):
    packet = packet_of(state)
    book = openpyxl.load_workbook(io.BytesIO(render_packet(packet, "xlsx", PacketDocuments())))
    rows = [[c.value for c in row] for row in book["Citations"].iter_rows(min_row=2)]
    assert {r[0] for r in rows} == {r["id"] for r in packet.content["rules"]}
    assert {r[1] for r in rows} <= {state, "METRC"}
    assert foreign_markers(state, " ".join(str(v) for r in rows for v in r)) == []
    if state == "CA":
        assert rows[[r[0] for r in rows].index(
            "manifest-package-unlisted")][:2] == ["manifest-package-unlisted", "CA"]
