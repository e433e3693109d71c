"""Packets of a short sample store's audit, with hostile text planted in every free field."""

import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest

from auditor.domain.errors import Conflict, InvalidInput
from auditor.domain.events import Event, EventType
from auditor.packets import PacketDocuments
from auditor.packets.templating import counted
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store
from auditor.services.packet_view import packet_tables
from auditor.services.packets import (
    PacketSources,
    amend_packet,
    content_sha256,
    current_packet,
    finalize_packet,
    render_packet,
)
from auditor.services.ports import Batch
from auditor.services.report_fakes import InMemoryPacketRecords
from auditor.store.report_queries import SqlActivityLog

HOSTILE = ["<script>alert(1)</script><img src='file:///etc/passwd'>",
           "<style>@import url('http://127.0.0.1:9/x.css');</style>",
           "=HYPERLINK(\"file:///etc/passwd\")", "@SUM(1)", "+1", "-1"]
LICENSE = "C10-0000123-LIC"
ZONE = ZoneInfo("America/Los_Angeles")  # the sample store's


def _plant(store, when: datetime) -> None:
    """Add an adjustment, a move and a count whose free text is hostile."""
    import_id = store.start_import(LICENSE, "events", "hostile", "0" * 64, when)
    label = "1A4HOSTILE00000000000001"
    text = " ".join(HOSTILE)
    events = [
        Event(EventType.ADJUSTMENT, when, "hostile-adj", {
            "label": label, "item_name": HOSTILE[0], "category": HOSTILE[1], "quantity": -1.0,
            "unit": "Each", "reason": HOSTILE[2], "note": text, "adjusted_at": when.isoformat(),
            "adjusted_by": HOSTILE[3], "time_precision": "time"}, package_label=label),
        Event(EventType.MOVE, when, "hostile-move", {
            "label": label, "from_location": HOSTILE[4], "to_location": HOSTILE[5],
            "quantity": 1.0, "unit": "Each", "employee": HOSTILE[0],
            "moved_at": when.isoformat()}, package_label=label),
    ]
    store.append(Batch(LICENSE, import_id, "events", [[e] for e in events], when))


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory):
    from auditor.bootstrap import open_store
    from auditor.config import Settings
    root = tmp_path_factory.mktemp("packet")
    generate_store(root / "store", StoreSpec(days=7, receipts_per_day=8))
    store = open_store(Settings(database_url=f"sqlite:///{root / 'a.db'}"), migrate=True)
    load_sample_store(store, root / "store")
    _plant(store, datetime(2026, 1, 3, 20, tzinfo=UTC))
    pack = load_pack(default_rules_dir(), "CA")
    report = run_audit(store, pack, LICENSE, date(2026, 1, 1), date(2026, 1, 7))
    sources = PacketSources(store, SqlActivityLog(store.engine), InMemoryPacketRecords())
    yield sources, pack, report.as_json()
    store.engine.dispose()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.reliability
@pytest.mark.slow
def test_the_pdf_holds_every_finding_and_log_row_and_the_hostile_text_as_text(audited, figure):
    sources, pack, run = audited
    packet = current_packet(sources, run["run_id"], pack, "tester")
    renderer = PacketDocuments()
    pdf = pypdf.PdfReader(io.BytesIO(render_packet(packet, "pdf", renderer, full_logs=True)))
    text = _squash("".join(page.extract_text() for page in pdf.pages))
    fetched = renderer.fetcher.served + renderer.fetcher.refused
    figure("packets: fetches outside packaged assets",
           sum(not url.startswith("asset:") for url in renderer.fetcher.served), of=len(fetched),
           document="PDF packet with hostile text")
    assert renderer.fetcher.served == ["asset:packet.css"] and renderer.fetcher.refused == []
    assert packet.sha256 in text and run["pack"]["hash"] in text
    for finding in run["findings"]:
        assert _squash(finding["message"]) in text
    heads = sum(text.count(f"[{s}]") for s in ("critical", "high", "medium", "low", "info"))
    figure("packets: PDF findings equal to the JSON's", heads, of=len(run["findings"]))
    assert heads == len(run["findings"])  # the same count as the run's JSON
    for table in packet.content["logs"]:
        assert _squash(f"{len(table['rows'])}rows.") in text
        for row in table["rows"]:
            for value in row:
                if isinstance(value, str) and not value[:4].isdigit():
                    assert _squash(value) in text, (table["key"], value)
    for payload in HOSTILE:
        assert _squash(payload) in text  # printed, not interpreted
    pages = len(pdf.pages)
    assert f"page{pages}of{pages}" in text
    assert _squash(f"{LICENSE} · 2026-01-01 to 2026-01-07") in _squash(pdf.pages[1].extract_text())


@pytest.mark.reliability
def test_the_excel_packet_holds_the_same_data_cell_by_cell(audited, figure):
    sources, pack, run = audited
    packet = current_packet(sources, run["run_id"], pack, "tester")
    book = openpyxl.load_workbook(io.BytesIO(render_packet(packet, "xlsx", PacketDocuments())))
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row]
    figure("packets: live formulas", sum(c.data_type == "f" for c in cells), of=len(cells),
           document="XLSX packet with hostile text")
    tables = packet_tables(packet)
    assert len(book.sheetnames) == len(tables)
    rule_rows = 0
    for name, table in zip(book.sheetnames, tables, strict=True):
        sheet = book[name]
        assert [c.value for c in sheet[1]] == [c.name for c in table.columns]
        assert sheet.max_row == len(table.rows) + 1
        for row, cells in zip(table.rows, sheet.iter_rows(min_row=2), strict=True):
            for value, column, cell in zip(row, table.columns, cells, strict=True):
                assert cell.data_type != "f"
                if column.kind == "datetime" and value:
                    local = datetime.fromisoformat(value).astimezone(ZONE)
                    assert cell.value == local.replace(tzinfo=None)
                    assert cell.number_format.endswith(f'"{local.strftime("%Z")}"')
                elif column.kind == "text" and value:
                    assert cell.value == str(value) and cell.data_type == "s"
                    assert cell.quotePrefix == str(value).startswith(("=", "+", "-", "@"))
                elif value not in (None, ""):
                    assert cell.value == value or str(cell.value)[:10] == value
        rule_rows += len(table.rows) if table.key.startswith("rule:") else 0
    figure("packets: XLSX findings equal to the JSON's", rule_rows, of=len(run["findings"]))
    assert rule_rows == len(run["findings"])
    notes = [c.value for c in book["METRC adjustments"]["H"]]
    assert " ".join(HOSTILE) in notes


def test_generating_again_gives_the_same_content_and_hash(audited):
    sources, pack, run = audited
    first = current_packet(sources, run["run_id"], pack, "a")
    second = current_packet(sources, run["run_id"], pack, "b")
    assert first.sha256 == second.sha256 == content_sha256(second.content)
    as_json = render_packet(second, "json", PacketDocuments())
    import hashlib
    assert hashlib.sha256(as_json).hexdigest() == second.sha256


def test_a_final_packet_never_changes_and_an_amendment_names_what_changed(audited):
    sources, pack, run = audited
    store = sources.store
    packet = finalize_packet(sources, run["run_id"], pack, "officer")
    with pytest.raises(Conflict):
        finalize_packet(sources, run["run_id"], pack, "officer")
    with pytest.raises(InvalidInput):
        amend_packet(sources, run["run_id"], pack, "officer", "no reason to")
    late = datetime(2026, 1, 4, 20, tzinfo=UTC)
    import_id = store.start_import(LICENSE, "events", "late", "1" * 64, late)
    store.append(Batch(LICENSE, import_id, "events", [[Event(
        EventType.ADJUSTMENT, late, "late-adj", {"label": "1A4LATE", "quantity": -2.0,
                                                 "reason": "Theft", "note": "found later"},
        package_label="1A4LATE")]], late + timedelta(days=30)))
    assert current_packet(sources, run["run_id"], pack, "x").sha256 == packet.sha256
    amended = amend_packet(sources, run["run_id"], pack, "officer", "late import")
    assert amended.version == 2 and amended.finalized_at is not None
    before = len(packet.content["logs"][0]["rows"])
    assert amended.changes == [f"METRC adjustments: {before} rows before, {before + 1} now"]
    assert amended.content["amendment"]["previous_sha256"] == packet.sha256
    assert [v.sha256 for v in sources.records.versions(run["run_id"])][0] == packet.sha256


def test_the_activity_log_reads_the_same_on_each_database(sql_store):
    when = datetime(2026, 1, 3, 20, tzinfo=UTC)
    _plant(sql_store, when)
    log = SqlActivityLog(sql_store.engine)
    found = log.events(LICENSE, [EventType.ADJUSTMENT, EventType.MOVE], when, when + timedelta(1))
    assert [e.type for e in found] == [EventType.ADJUSTMENT, EventType.MOVE]
    assert found[0].payload["note"] == " ".join(HOSTILE)
    assert log.events(LICENSE, [EventType.MOVE], None, when) == []


class _States:
    """Finding statuses as the API's store records them."""

    def __init__(self, states: dict) -> None:
        self.states = states

    def finding_states(self, license_number: str, identities: list[str]) -> dict:
        return {i: s for i, s in self.states.items() if i in identities}


def test_the_packet_lists_the_waivers_in_force_at_the_period_end(audited):
    from types import SimpleNamespace

    from auditor.services.packets import finding_identity
    from auditor.services.report_ports import StatusWaivers

    sources, pack, run = audited
    first, second, third = (finding_identity(f) for f in run["findings"][:3])
    end = datetime(2026, 1, 8, 8, tzinfo=UTC)

    def state(status, expires, who="Alex <b>Officer</b>"):
        return SimpleNamespace(status=status, actor=who, waiver_justification="=cmd|calc",
                               waiver_expires_at=expires)

    waivers = StatusWaivers(_States({first: state("waived", end + timedelta(days=30)),
                                     second: state("waived", end - timedelta(days=1)),
                                     third: state("acknowledged", None)}))
    with_waivers = PacketSources(sources.store, sources.activity, InMemoryPacketRecords(),
                                 waivers)
    packet = current_packet(with_waivers, run["run_id"], pack, "tester")
    assert packet.content["waivers"] == [{
        "rule_id": run["findings"][0]["rule_id"], "subject": run["findings"][0]["subject"],
        "justification": "=cmd|calc", "approver": "Alex <b>Officer</b>",
        "expires_at": (end + timedelta(days=30)).isoformat()}]
    book = openpyxl.load_workbook(io.BytesIO(render_packet(packet, "xlsx", PacketDocuments())))
    cell = book["Waivers"]["C2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("=cmd|calc", "s", True)


def _pdf_text(packet, **options) -> str:
    pdf = pypdf.PdfReader(io.BytesIO(render_packet(packet, "pdf", PacketDocuments(), **options)))
    return "\n".join(page.extract_text() for page in pdf.pages)


@pytest.mark.slow
def test_the_pdf_reads_times_locally_and_shows_log_exceptions_with_daily_totals(audited):
    sources, pack, run = audited
    packet = current_packet(sources, run["run_id"], pack, "tester")
    text = _pdf_text(packet)
    for finding in run["findings"]:  # each header in local time, with the zone's abbreviation
        local = datetime.fromisoformat(finding["occurred_at"]).astimezone(ZONE)
        assert f"[{finding['severity']}] {local.strftime('%Y-%m-%d %H:%M %Z')}" in text
        assert _squash(f"Evidence events {', '.join(map(str, finding['evidence']))}") in \
            _squash(text)
    assert "+00:00" not in text and "UTC" not in text  # UTC is for the JSON only
    assert "criticalhighmediumlowinfo" not in text  # the severity header is spaced out
    activity = run["activity"]
    assert (f"{len(run['findings'])} findings; {activity['findings_per_1000_events']} findings "
            f"per 1,000 events ({activity['events']} events)") in text
    counts = next(t for t in packet.content["logs"] if t["key"] == "counts")
    agreeing = [r for r in counts["rows"] if r[8] == 0]
    exceptions = len(counts["rows"]) - len(agreeing)
    assert agreeing and (f"{len(counts['rows'])} rows, "
                      f"{counted(exceptions, 'exception')}") in text
    assert _squash(text).count(_squash(agreeing[0][1])) < _squash(
        _pdf_text(packet, full_logs=True)).count(_squash(agreeing[0][1]))


def test_the_workbook_has_local_times_numeric_figures_and_whole_titles(audited):
    sources, pack, run = audited
    packet = current_packet(sources, run["run_id"], pack, "tester")
    book = openpyxl.load_workbook(io.BytesIO(render_packet(packet, "xlsx", PacketDocuments())))
    cover = {row[0].value: row[1] for row in book["Cover"].iter_rows(min_row=2)}
    assert cover["readiness score (of 100)"].value == run["readiness_score"]
    assert cover["findings"].data_type == "n" and cover["findings"].value == len(run["findings"])
    assert cover["audited at"].value.endswith(("PST", "PDT"))
    rate = run["activity"]["findings_per_1000_events"]
    assert cover["findings per 1,000 events"].value == pytest.approx(rate)
    assert cover["events in the period"].value == run["activity"]["events"] > 0
    sheet = book["pos-sale-unreported"]
    first = next(f for f in run["findings"] if f["rule_id"] == "pos-sale-unreported")
    local = datetime.fromisoformat(first["occurred_at"]).astimezone(ZONE)
    assert sheet["A2"].value == local.replace(tzinfo=None)
    assert sheet["A2"].number_format == f'yyyy-mm-dd hh:mm "{local.strftime("%Z")}"'
    titles = [t.title for t in packet_tables(packet)]
    assert len(set(book.sheetnames)) == len(book.sheetnames) == len(titles)
    titles = [t.replace(":", " ") for t in titles]  # Excel refuses ":" in a sheet name
    for name, title in zip(book.sheetnames, titles, strict=True):
        assert len(name) <= 31 and title.startswith(name.split(" (")[0])
        assert len(title) == len(name) or title[len(name.split(" (")[0])] in " -", (name, title)
    counted = next(book[n] for n in book.sheetnames if n.startswith("Cycle counts"))
    whole = [c for c in counted["G"][1:] if isinstance(c.value, float | int)
             and float(c.value).is_integer()]
    assert whole and all(c.number_format == "#,##0" for c in whole)  # 39, not 39.000


@pytest.mark.slow
def test_findings_of_one_triggering_record_are_one_incident_with_its_late_correction(audited):
    sources, pack, run = audited
    packet = current_packet(sources, run["run_id"], pack, "tester")
    triggers: dict[int, set[str]] = {}
    for finding in run["findings"]:
        triggers.setdefault(finding["evidence"][0], set()).add(finding["rule_id"])
    shared = [rules for rules in triggers.values() if len(rules) > 1]
    assert shared  # the sample store has a sale both unreported and mismatched
    text = _pdf_text(packet)
    assert f"{len(run['findings'])} findings in {len(triggers)} incidents" in text
    book = openpyxl.load_workbook(io.BytesIO(render_packet(packet, "xlsx", PacketDocuments())))
    rows = [[c.value for c in row] for row in book["Incidents"].iter_rows(min_row=2)]
    assert len(rows) == len(triggers) and sum(r[5] for r in rows) == len(run["findings"])
    assert sorted(r[4].split(", ") for r in rows if r[5] > 1) == sorted(
        sorted(rules) for rules in shared)
    late = [f for f in run["findings"] if f["fields"].get("timeliness") == "late"]
    remedied = [f for f in run["findings"] if f in late or f["fields"].get("corrected_by_type")]
    corrected = [r[6] for r in rows if r[6]]
    assert late and len(corrected) == len({f["evidence"][0] for f in remedied})
    for finding in late:
        when = datetime.fromisoformat(finding["fields"]["reported_at"]).astimezone(ZONE)
        assert any(f"{finding['rule_id']}: corrected late, at "
                   f"{when.strftime('%Y-%m-%d %H:%M %Z')}" in c for c in corrected)


def _said(finding):
    """Return what the packet must say of a remedied finding's corrective event."""
    fields = finding["fields"]
    when = datetime.fromisoformat(fields["corrected_at"]).astimezone(ZONE)
    return (f"at {when.strftime('%Y-%m-%d %H:%M %Z')}" if fields.get("timeliness") != "late"
            else "", f"by {fields['corrected_by_type'].replace('_', ' ')} "
            f"{fields['corrected_by_reference'] or 'event ' + str(fields['corrected_by_event'])}")


def test_remedied_findings_say_by_what_and_when_in_the_pdf_and_the_xlsx(audited):
    """The sample store fixes its planted count variance and sale quantity mismatch with
    METRC adjustments and records a move's location change after the move: the packet
    names each corrective event (type, reference, local time) in the PDF and the XLSX."""
    sources, pack, run = audited
    built = current_packet(sources, run["run_id"], pack, "tester")
    remedied = [f for f in run["findings"] if f["fields"].get("corrected_by_type")]
    kinds = {(f["rule_id"], f["fields"]["corrected_by_type"]) for f in remedied}
    assert {("count-variance", "adjustment"), ("sale-quantity-mismatch", "adjustment"),
            ("transfer-before-move", "location_change")} <= kinds
    book = openpyxl.load_workbook(io.BytesIO(render_packet(built, "xlsx", PacketDocuments())))
    incidents = [[c.value for c in row] for row in book["Incidents"].iter_rows(min_row=2)]
    text = _squash(_pdf_text(built))
    for finding in remedied:
        row = next(r for r in incidents if r[3] == finding["subject"]
                   and finding["rule_id"] in r[4])
        when, by = _said(finding)
        assert f"{finding['rule_id']}: corrected" in row[6]
        assert when in row[6] and by in row[6], (row[6], when, by)
        assert _squash(by) in text and _squash(when) in text
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
