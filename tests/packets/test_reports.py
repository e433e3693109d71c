"""The associate's reports over small event sets in an in-memory activity log."""

from datetime import UTC, date, datetime, timedelta
from itertools import count

from auditor.domain.events import EventType as T
from auditor.domain.license import License
from auditor.services.report_fakes import InMemoryActivityLog
from auditor.services.report_ports import LoggedEvent
from auditor.services.reports import build_report

LICENSE = License("C10-0000123-LIC", "CA", "America/Los_Angeles", ("Sales Floor",),
                  "Test", ("Vault",))
DAY = date(2026, 1, 5)
NOON = datetime(2026, 1, 5, 20, tzinfo=UTC)  # noon in Los Angeles
ids = count(1)


def ev(kind: T, at: datetime, label: str, reference: str | None = None, **payload) -> LoggedEvent:
    return LoggedEvent(next(ids), kind, at, label, reference, {"label": label, **payload})


def received(label: str, qty: float, item: str = "Gelato Flower", at: datetime = NOON,
             **extra) -> list[LoggedEvent]:
    return [ev(T.MANIFEST_PACKAGE, at - timedelta(days=2), label, "M1", item_name=item,
               category="Flower", shipment_state="Accepted", received_quantity=qty,
               received_unit="Grams"),
            ev(T.PACKAGE_SNAPSHOT, at - timedelta(days=2), label, item_name=item,
               category="Flower", location="Vault", **extra)]


def pos(label: str, receipt: str, qty: float, at: datetime = NOON, **extra) -> LoggedEvent:
    return ev(T.POS_SALE_LINE, at, label, receipt, receipt_id=receipt, quantity=qty,
              unit="Grams", product_name="Gelato Flower", category="Flower", **extra)


def metrc(label: str, receipt: str, qty: float, at: datetime = NOON) -> LoggedEvent:
    return ev(T.METRC_SALE_LINE, at, label, receipt, external_receipt_number=receipt,
              quantity=qty, unit="Grams")


def build(name: str, events: list[LoggedEvent], start: date = DAY, end: date = DAY) -> dict:
    return build_report(name, InMemoryActivityLog(LICENSE.number, events), LICENSE, start, end)


def test_reconciliation_names_pos_only_metrc_only_and_quantity_mismatches() -> None:
    events = [pos("A", "R1", 3.5), metrc("A", "R1", 3.5), pos("A", "R2", 2), metrc("A", "R2", 1),
              pos("A", "R3", 1), metrc("A", "R4", 1), pos("A", "R5", 1, voided=True)]
    daily, exceptions = build("reconciliation", events)["tables"]
    assert daily["rows"] == [["2026-01-05", 3, 3, 1, 0, 1, 1, 1]]
    assert [(r[1], r[6]) for r in exceptions["rows"]] == [
        ("R2", "quantity mismatch"), ("R3", "POS only: not in METRC"),
        ("R4", "METRC only: no POS line")]


def test_cycle_counts_compare_the_shelf_with_pos_and_metrc() -> None:
    events = [*received("A", 10), pos("A", "R1", 2), metrc("A", "R1", 1),
              ev(T.COUNT_LINE, NOON + timedelta(hours=1), "A", "C1", counted_quantity=9.0,
                 location="Vault")]
    summary, lines = build("cycle-counts", events)["tables"]
    assert summary["rows"] == [["Vault", "Flower", 1, 9.0, 8.0, 9.0, 1, 0]]
    assert lines["rows"][0][5:9] == [9.0, 8.0, 9.0, 0.0]
    assert lines["rows"][0][10:] == [None, None, None, None]  # agrees with METRC
    accuracy = build("accuracy", events)["tables"][0]
    assert accuracy["rows"] == [["2026-01-05", "Flower", 1, 1, 100.0]]


def test_a_count_variance_names_the_adjustment_that_explained_it() -> None:
    count = ev(T.COUNT_LINE, NOON, "A", "C1", counted_quantity=7.5, location="Vault")
    before = ev(T.ADJUSTMENT, NOON - timedelta(hours=1), "A", quantity=-0.5,
                reason="Drying", note="before the count")
    after = ev(T.ADJUSTMENT, NOON + timedelta(hours=2), "A", quantity=-2.5,
               reason="Theft", note="shelf short after count")
    events = [*received("A", 10, at=NOON - timedelta(days=1)), count, before, after]
    line = build("cycle-counts", events)["tables"][1]["rows"][0]
    # On hand at the count: 10 received, less 0.5 adjusted before it.
    assert line[5:10] == [7.5, 9.5, 9.5, -2.0, "Grams"]
    assert line[10:] == ["2026-01-05T14:00:00-08:00", -2.5, "Theft", "shelf short after count"]


def test_replenishment_says_how_much_to_move_from_which_vault_package_first_expiring_first(
        ) -> None:
    move = ev(T.MOVE, NOON - timedelta(days=1), "A", to_location="Sales Floor")
    events = [*received("A", 12), *received("LATE", 50, expiration_date="2026-09-01"),
              *received("SOON", 30, expiration_date="2026-03-01"),
              *received("UNDATED", 40), move, pos("A", "R1", 10), metrc("A", "R1", 10)]
    rows = build("replenishment", events)["tables"][0]["rows"]
    # 10 sold a day, 2 on the floor: 68 to bring it to 7 days, 30 from the soonest
    # expiring vault package, then 38 from the next; the undated one is not needed.
    assert [r[:8] for r in rows] == [["Flower", "Gelato Flower", "Grams", 2.0, 10.0, 0.2,
                                      120.0, 68.0]] * 2
    assert [r[8:] for r in rows] == [["SOON", "2026-03-01", 30.0], ["LATE", "2026-09-01", 38.0]]


def test_velocity_gives_weekly_units_dollars_and_weeks_of_supply() -> None:
    events = [*received("A", 100), pos("A", "R1", 10, total_price=120.0),
              pos("A", "R2", 4, at=NOON + timedelta(days=7), unit_price=11.0),
              pos("A", "R3", 99, at=NOON + timedelta(days=7), voided=True, total_price=9.0),
              metrc("A", "R1", 10), metrc("A", "R2", 4, at=NOON + timedelta(days=7))]
    table = build("velocity", events, DAY, DAY + timedelta(days=13))["tables"][0]
    names = [c[0] for c in table["columns"]]
    assert names[-2:] == ["week of 2026-01-05", "week of 2026-01-12"]
    row = dict(zip(names, table["rows"][0], strict=True))
    assert (row["sold"], row["sales $"], row["sold per week"], row["on hand"]) == (
        14.0, 164.0, 7.0, 86.0)
    assert (row["week of 2026-01-05"], row["week of 2026-01-12"]) == (10.0, 4.0)
    assert row["weeks of supply"] == round(86 / 7, 1)


def test_sell_soon_ranks_by_days_to_expiry_then_age_and_marks_undated_packages() -> None:
    events = [*received("LATE", 5, expiration_date="2026-06-01"),
              *received("SOON_NEW", 5, expiration_date="2026-02-01"),
              *received("SOON_OLD", 5, at=NOON - timedelta(days=20), sell_by_date="2026-02-01",
                        expiration_date="2026-05-01"),
              *received("GONE", 5, expiration_date="2026-01-01"),
              *received("UNDATED_OLD", 5, at=NOON - timedelta(days=30)),
              *received("UNDATED_NEW", 5)]
    rows = build("sell-soon", events)["tables"][0]["rows"]
    assert [(r[0], r[6], r[1], r[2], r[11]) for r in rows] == [
        (1, "GONE", -4, 2, "expired; new"),
        (2, "SOON_OLD", 27, 22, ""),  # same expiry as SOON_NEW: older on hand first
        (3, "SOON_NEW", 27, 2, "new"),
        (4, "LATE", 147, 2, "new"),
        (5, "UNDATED_OLD", None, 32, "no expiry date: ranked by age"),
        (6, "UNDATED_NEW", None, 2, "no expiry date: ranked by age; new")]


def test_reconciliation_tells_a_late_report_from_a_missing_one() -> None:
    from datetime import timedelta

    from auditor.domain.rules import parse_deadline
    from auditor.services.report_logs import reconcile_sales

    def reported(receipt: str, at: datetime) -> LoggedEvent:
        return ev(T.METRC_SALE_LINE, NOON, "A", receipt, external_receipt_number=receipt,
                  quantity=1, unit="Grams", recorded_at=at.isoformat())

    late = reported("R1", NOON + timedelta(hours=26, minutes=47))
    timely = reported("R2", NOON)
    events = [pos("A", "R1", 1), late, pos("A", "R2", 1), timely, pos("A", "R3", 1)]
    log = InMemoryActivityLog(LICENSE.number, events)
    daily, exceptions = reconcile_sales(log, LICENSE.number, LICENSE.zone(),
                                        NOON - timedelta(days=1), NOON + timedelta(days=1),
                                        parse_deadline("PT24H"))
    assert [r[1:] for r in daily.rows] == [[3, 2, 1, 1, 0, 1, 0]]
    assert [(r[1], r[6], r[7]) for r in exceptions.rows] == [
        ("R1", "late", "late: reported 26 h 47 min after the sale, 2 h 47 min past the "
                       "24 h window"),
        ("R3", "POS only: not in METRC", "missing: never reported to METRC")]


def test_a_full_count_is_recognised_by_what_it_covers_not_by_its_id() -> None:
    from datetime import timedelta

    from auditor.services.count_coverage import full_count_log

    def line(label: str, count_id: str, at: datetime) -> LoggedEvent:
        return ev(T.COUNT_LINE, at, label, count_id, count_id=count_id, counted_quantity=1,
                  unit="Each")

    later = NOON + timedelta(days=1)
    events = [*received("A", 5), *received("B", 5), *received("C", 5),
              line("A", "WEEKLY-7", later), line("B", "WEEKLY-7", later + timedelta(hours=1)),
              metrc("C", "R9", 5, at=later + timedelta(minutes=30)),  # sold out mid-count
              line("A", "FULL-8", later + timedelta(days=1))]
    rows = full_count_log(sorted(events, key=lambda e: e.occurred_at), NOON,
                          LICENSE.zone()).rows
    by_id = {row[0]: row for row in rows}
    # Every package on hand was counted or sold during it: full, whatever its id says.
    assert by_id["WEEKLY-7"][3:8] == [3, 2, 1, 0, "yes"]
    # C was sold out before it and B was left out: not full, and B is named.
    assert by_id["FULL-8"][3:9] == [2, 1, 0, 1, "no", "B"]
