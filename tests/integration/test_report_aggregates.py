"""The reports' SQL aggregates against a replay of every event, on SQLite and PostgreSQL.

A generated store is ingested; the in-memory activity log replays all of its events
through the reports' Ledger (the reference), the SQL log answers with grouped sums. Each
aggregate, every report and the packet's supporting logs must come out the same; the
Excel files are read back cell by cell.
"""

import io
import json
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest

from auditor.bootstrap import open_store
from auditor.domain.events import EventType
from auditor.domain.rules import parse_deadline
from auditor.packets import PacketDocuments
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import load_sample_store
from auditor.services.report_fakes import InMemoryActivityLog
from auditor.services.report_logs import supporting_logs
from auditor.services.report_period import Period
from auditor.services.reports import REPORTS, build_report, report_tables
from auditor.store.report_queries import SqlActivityLog

FOREVER = datetime(2100, 1, 1, tzinfo=UTC)
START = date(2026, 1, 1)
DAYS = 21


@pytest.fixture
def stores(sql_settings, tmp_path):
    """Yield (license, SQL activity log, in-memory log over the same events)."""
    truth = generate_store(tmp_path / "store", StoreSpec(days=DAYS, receipts_per_day=30,
                                                         seed=7, start=START))
    store = open_store(sql_settings, migrate=True)
    load_sample_store(store, tmp_path / "store")
    license = store.get_license(truth["spec"]["license_number"])
    sql = SqlActivityLog(store.engine)
    replayed = InMemoryActivityLog(license.number, sql.events(
        license.number, list(EventType), None, FOREVER))
    yield license, sql, replayed
    store.engine.dispose()


def _approx(value):
    """Return floats as pytest.approx so sums added in another order still compare."""
    if isinstance(value, float):
        return pytest.approx(value, abs=1e-6)
    if isinstance(value, list | tuple):
        return type(value)(_approx(v) for v in value)
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    return value


def test_on_hand_and_descriptions_at_a_moment_match_the_replay(stores) -> None:
    license, sql, replayed = stores
    for day in (START + timedelta(days=3), START + timedelta(days=10), START + timedelta(DAYS)):
        moment = local_bounds(license, day, day)[0]
        in_sql = sql.packages_at(license.number, moment)
        reference = replayed.packages_at(license.number, moment)
        assert in_sql.keys() == reference.keys() and reference
        for label, state in reference.items():
            assert vars(in_sql[label]) == _approx(vars(state)), label


def test_period_aggregates_match_the_replay(stores) -> None:
    license, sql, replayed = stores
    period = Period(license, START + timedelta(days=5), START + timedelta(DAYS),
                    *local_bounds(license, START + timedelta(days=5), START + timedelta(DAYS)))
    opens, closes = period.opens, period.closes
    counted = sql.counted(license.number, opens, closes)
    assert len(counted) > 10
    assert [(e.id, vars(s)) for e, s in counted] == _approx(
        [(e.id, vars(s)) for e, s in replayed.counted(license.number, opens, closes)])

    def weeks(log):
        return sorted((w.package_label, w.week, w.quantity, w.dollars, w.lines)
                      for w in log.sales_by_week(license.number, period.week_starts(),
                                                 closes))
    assert weeks(sql) == _approx(weeks(replayed)) and weeks(sql)

    def matches(log, surely):
        agreeing, others = log.sale_matches(license.number, license.timezone, opens, closes,
                                            surely)
        return agreeing, sorted(((m.receipt, m.package_label), m.pos and vars(m.pos),
                                 m.metrc and vars(m.metrc)) for m in others)
    for surely in (None, timedelta(hours=24), timedelta(minutes=2)):
        agreeing, others = matches(sql, surely)
        assert (agreeing, others) == _approx(matches(replayed, surely)) and agreeing
        assert others or surely is None

    def latest(log):
        return [(e.id, e.package_label) for e in log.latest_before(
            license.number, EventType.LOCATION_CHANGE, closes - timedelta(days=3))]
    assert latest(sql) == latest(replayed) and latest(sql)


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_is_the_same_from_sql_as_from_the_replay(stores, name) -> None:
    license, sql, replayed = stores
    start, end = START + timedelta(days=7), START + timedelta(days=DAYS - 1)
    built = build_report(name, sql, license, start, end)
    assert built == _approx(build_report(name, replayed, license, start, end))
    assert any(t["rows"] for t in built["tables"]), name


def test_the_supporting_logs_are_the_same_from_sql_as_from_the_replay(stores) -> None:
    license, sql, replayed = stores
    opens, closes = local_bounds(license, START + timedelta(days=7), START + timedelta(DAYS))
    window = parse_deadline("PT24H")
    from_sql = [t.as_json() for t in supporting_logs(sql, license.number, license.zone(),
                                                     opens, closes, window)]
    assert from_sql == _approx([t.as_json() for t in supporting_logs(
        replayed, license.number, license.zone(), opens, closes, window)])
    counts = next(t for t in from_sql if t["key"] == "full_counts")
    assert counts["rows"], "the coverage log starts from the opening balances"


def _sheet(built: dict) -> list[tuple]:
    data = PacketDocuments().xlsx(report_tables(built))
    return list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(
        values_only=True))


def test_the_reports_new_columns_read_back_from_excel(stores) -> None:
    license, sql, _ = stores
    start, end = START, START + timedelta(days=DAYS - 1)
    velocity = _sheet(build_report("velocity", sql, license, start, end))
    header = velocity[0]
    weekly = [i for i, name in enumerate(header) if str(name).startswith("week of ")]
    assert len(weekly) == 4  # 2026-01-01 is a Thursday: 4 weeks touched in 21 days
    for row in velocity[1:]:
        by_name = dict(zip(header, row, strict=True))
        assert sum(row[i] for i in weekly) == pytest.approx(by_name["sold"], abs=0.01)
        assert isinstance(by_name["sales $"], float | int)
    assert sum(dict(zip(header, r, strict=True))["sales $"] for r in velocity[1:]) > 0

    sell_soon = _sheet(build_report("sell-soon", sql, license, start, end))
    header = sell_soon[0]
    ranks = [dict(zip(header, r, strict=True)) for r in sell_soon[1:]]
    assert [r["rank"] for r in ranks] == list(range(1, len(ranks) + 1))
    dated = [r["days to expiry"] for r in ranks if r["days to expiry"] is not None]
    assert dated == sorted(dated) and dated
    undated = [r for r in ranks if r["days to expiry"] is None]
    assert all("no expiry date" in r["mark"] for r in undated)
    assert all(r["days to expiry"] is None for r in ranks[len(dated):])  # undated last


def test_cycle_count_lines_read_back_with_variance_and_adjustment(stores) -> None:
    license, sql, _ = stores
    built = build_report("cycle-counts", sql, license, START, START + timedelta(days=DAYS - 1))
    data = PacketDocuments().xlsx(report_tables(built))
    lines = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[1].iter_rows(
        values_only=True))
    header = lines[0]
    assert header[8:] == ("variance", "unit", "adjusted at", "adjustment", "reason", "note")
    rows = [dict(zip(header, r, strict=True)) for r in lines[1:]]
    for row in rows:
        assert row["variance"] == pytest.approx(row["counted"] - row["METRC on hand"],
                                                abs=1e-6)
        if row["reason"] is not None:
            assert row["variance"] != 0 and isinstance(row["adjusted at"], datetime)


def _event(n: int, kind: str, at: str, label: str, **payload) -> dict:
    return {"natural_key": f"edge-{n}", "type": kind, "occurred_at": at,
            "package_label": label, "reference": payload.get("receipt_id"),
            "payload": {"label": label, **payload}}


def test_edge_cases_agree_with_the_replay(sql_store) -> None:
    """A package known only from POS lines, a count at the same instant as a sale, a
    voided line and a METRC line with no receipt number: SQL and replay agree."""
    from tests.conftest import LICENSE

    tag, pos_only = "1A4000000000000000000001", "1A4000000000000000000002"
    events = [
        _event(1, "manifest_package", "2026-01-04T10:00:00-08:00", tag, item_name="Runtz",
               category="Flower", shipment_state="Accepted", received_quantity=10,
               received_unit="Grams"),
        _event(2, "pos_sale_line", "2026-01-05T12:00:00-08:00", tag, receipt_id="R1",
               quantity=2, unit="Grams", voided=False, total_price=20.0),
        _event(3, "count_line", "2026-01-05T12:00:00-08:00", tag, count_id="C1",
               counted_quantity=8, location="Vault"),
        _event(4, "pos_sale_line", "2026-01-05T13:00:00-08:00", tag, receipt_id="R2",
               quantity=5, unit="Grams", voided=True),
        _event(5, "metrc_sale_line", "2026-01-05T13:00:00-08:00", tag, quantity=1,
               unit="Grams", recorded_at="2026-01-05T21:00:00+00:00"),
        _event(6, "pos_sale_line", "2026-01-05T14:00:00-08:00", pos_only, receipt_id="R3",
               quantity=1, unit="Each", voided=False, product_name="Mints",
               category="Edible", unit_price=4.5),
    ]
    sql, replayed = _stored_and_replayed(sql_store, "edge.ndjson", events)
    day = date(2026, 1, 5)
    opens, closes = local_bounds(LICENSE, day, day)
    in_sql = sql.packages_at(LICENSE.number, closes)
    assert {k: vars(v) for k, v in in_sql.items()} == _approx(
        {k: vars(v) for k, v in replayed.packages_at(LICENSE.number, closes).items()})
    assert (in_sql[pos_only].item, in_sql[pos_only].category) == ("Mints", "Edible")
    [(line, state)] = sql.counted(LICENSE.number, opens, closes)
    assert (state.metrc, state.pos) == (10.0, 8.0)  # the sale of the same instant counts
    assert [vars(s) for _, s in replayed.counted(LICENSE.number, opens, closes)] == [
        vars(state)]
    for name in REPORTS:
        assert build_report(name, sql, LICENSE, day, day) == _approx(
            build_report(name, replayed, LICENSE, day, day)), name
    velocity = build_report("velocity", sql, LICENSE, day, day)["tables"][0]["rows"]
    assert [(r[1], r[3], r[4]) for r in velocity] == [("Mints", 1.0, 4.5), ("Runtz", 2.0, 20.0)]


def test_the_coverage_log_nets_the_sales_outside_counts_and_finds_the_same(sql_store) -> None:
    """Two counts spanning an hour each, METRC sales before, at the start of, during,
    between and after them: the SQL log nets the sales outside the counts and the
    coverage log still finds each count's on-hand, sold and missed packages."""
    from tests.conftest import LICENSE

    a, b, c = (f"1A400000000000000000000{n}" for n in (1, 2, 3))
    events = [_event(n, "manifest_package", "2026-01-04T10:00:00-08:00", tag, item_name="X",
                     shipment_state="Accepted", received_quantity=3.0, received_unit="Each")
              for n, tag in ((1, a), (2, b), (3, c))]
    sales = [("2026-01-05T08:00:00-08:00", a, 1.0), ("2026-01-05T09:00:00-08:00", b, 2.0),
             ("2026-01-05T09:30:00-08:00", a, 0.5),  # netted with a's first sale
             ("2026-01-05T10:30:00-08:00", b, 0.5),  # at the first count's start: sold in it
             ("2026-01-05T11:00:00-08:00", c, 1.0),  # during the first count
             ("2026-01-05T12:00:00-08:00", a, 2.0),  # between the counts: a is empty
             ("2026-01-05T15:00:00-08:00", c, 0.5),  # during the second count
             ("2026-01-05T18:00:00-08:00", c, 1.5)]  # after both
    events += [_event(10 + n, "metrc_sale_line", at, tag, quantity=q, unit="Each",
                      external_receipt_number=f"M{n}") for n, (at, tag, q) in enumerate(sales)]
    counts = [("C1", "2026-01-05T10:30:00-08:00", a), ("C1", "2026-01-05T11:30:00-08:00", a),
              ("C2", "2026-01-05T14:00:00-08:00", c), ("C2", "2026-01-05T15:30:00-08:00", c)]
    events += [_event(20 + n, "count_line", at, tag, count_id=key, counted_quantity=1,
                      location="Vault") for n, (key, at, tag) in enumerate(counts)]
    sql, replayed = _stored_and_replayed(sql_store, "coverage.ndjson", events)
    opens, closes = local_bounds(LICENSE, date(2026, 1, 5), date(2026, 1, 5))
    netted = sql.coverage_events(LICENSE.number, opens, closes, ("quantity", "count_id"))
    assert len(netted) < len(replayed.coverage_events(LICENSE.number, opens, closes,
                                                      ("quantity", "count_id")))
    [from_sql] = [t.as_json() for t in supporting_logs(
        sql, LICENSE.number, LICENSE.zone(), opens, closes) if t.key == "full_counts"]
    [from_replay] = [t.as_json() for t in supporting_logs(
        replayed, LICENSE.number, LICENSE.zone(), opens, closes) if t.key == "full_counts"]
    assert from_sql == _approx(from_replay)
    # C1: a, b, c on hand (1.5, 1, 3); a counted, b and c sold in it. C2: b and c on
    # hand (0.5, 2; a sold out between), c counted and b missed.
    assert [row[3:8] for row in from_sql["rows"]] == [[3, 1, 2, 0, "yes"],
                                                      [2, 1, 0, 1, "no"]]


def _stored_and_replayed(sql_store, name: str,
                         events: list) -> tuple[SqlActivityLog, InMemoryActivityLog]:
    """Store the events as one file; return the SQL log and a Python replay of the same."""
    from auditor.services.ingest import ingest
    from tests.conftest import LICENSE

    lines = "\n".join(json.dumps(e) for e in events)
    summary = ingest(sql_store, LICENSE.number, "events", name, lines.encode())
    assert summary.rejected == 0, summary.rejections
    sql = SqlActivityLog(sql_store.engine)
    return sql, InMemoryActivityLog(LICENSE.number, sql.events(
        LICENSE.number, list(EventType), None, FOREVER))
