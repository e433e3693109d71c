"""The packet's supporting logs, worked out from the stored events of a period.

Each log is a plain table: METRC adjustments, manifests received, METRC location
changes against physical moves, POS-to-METRC sales reconciliation (a daily summary and
the lines that do not agree), cycle counts against METRC's on-hand, and the counts by
what they covered (`count_coverage`).

History comes from the activity log's aggregates (on-hand at each count line and at the
period's opening, each package's last METRC location change before it); the logs read
only the period's events besides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from auditor.domain.events import EventType as T
from auditor.domain.rules import Deadline, duration_text
from auditor.services.count_coverage import full_count_log
from auditor.services.report_ports import (
    SALE_QUANTITY_TOLERANCE,
    ActivityLog,
    AgreeingSales,
    LoggedEvent,
    PackageState,
    SaleMatch,
    SaleSide,
)
from auditor.services.tables import Column, Table


def local(value: datetime | str | None, zone: ZoneInfo) -> str | None:
    """Return a time (aware datetime or ISO text) as ISO text in the license's zone."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(zone).isoformat(timespec="seconds")


def supporting_logs(log: ActivityLog, license_number: str, zone: ZoneInfo,
                    opens: datetime, closes: datetime,
                    sale_window: Deadline | None = None) -> list[Table]:
    """Return every supporting log of a license's period [opens, closes); `sale_window`
    (the state's sale reporting deadline) tells late METRC sale reports from timely ones."""
    def period(*types: T) -> list[LoggedEvent]:
        return log.events(license_number, types, opens, closes)

    counted = log.counted(license_number, opens, closes)
    coverage = [*opening_balances(log.packages_at(license_number, opens), opens),
                *log.coverage_events(license_number, opens, closes, COVERAGE_FIELDS)]
    sales = reconcile_sales(log, license_number, zone, opens, closes, sale_window)
    return [adjustments(period(T.ADJUSTMENT), zone),
            manifests(period(T.MANIFEST, T.RECEIVING_SCAN), zone),
            location_changes([*log.latest_before(license_number, T.LOCATION_CHANGE, opens),
                              *period(T.LOCATION_CHANGE, T.MOVE)], opens, zone),
            *sales,
            counts_on_hand(counted, zone),
            full_count_log(coverage, opens, zone)]


# What the coverage log reads of its events: METRC's quantities and the count's id.
COVERAGE_FIELDS = ("quantity", "received_quantity", "shipment_state", "count_id")


def opening_balances(packages: dict[str, PackageState], opens: datetime) -> list[LoggedEvent]:
    """Return METRC's on-hand at the opening as one adjustment per package just before it.

    The coverage log replays METRC's on-hand from its events; starting it from these
    balances, rather than from every event since the first, gives the same quantities.
    """
    before = opens - timedelta(microseconds=1)
    return [LoggedEvent(0, T.ADJUSTMENT, before, label, None, {"quantity": state.metrc})
            for label, state in sorted(packages.items()) if abs(state.metrc) > 0]


def adjustments(found: Iterable[LoggedEvent], zone: ZoneInfo) -> Table:
    """Return the METRC adjustments with reason and note, oldest first."""
    columns = [Column("adjusted at", "datetime"), Column("package"), Column("item"),
               Column("category"), Column("quantity", "number"), Column("unit"),
               Column("reason"), Column("note"), Column("adjusted by")]
    rows = [[local(e.occurred_at, zone), e.package_label, p.get("item_name"),
             p.get("category"), p.get("quantity"), p.get("unit"), p.get("reason"),
             p.get("note"), p.get("adjusted_by")]
            for e in found for p in [e.payload]]
    return Table("adjustments", "METRC adjustments", columns, rows)


def manifests(found: Iterable[LoggedEvent], zone: ZoneInfo) -> Table:
    """Return each manifest received: arrival, receiving scans and METRC acceptance."""
    scans: dict[str, list[LoggedEvent]] = defaultdict(list)
    received: list[LoggedEvent] = []
    for event in found:
        if event.type is T.RECEIVING_SCAN:
            scans[event.payload.get("manifest_number") or ""].append(event)
        else:
            received.append(event)
    columns = [Column("manifest"), Column("shipper"), Column("shipper license"),
               Column("packages", "int"), Column("arrived", "datetime"),
               Column("first scan", "datetime"), Column("last scan", "datetime"),
               Column("packages scanned", "int"), Column("accepted", "datetime"),
               Column("all scanned before acceptance")]
    rows = []
    for event in received:
        p = event.payload
        mine = scans.get(p.get("manifest_number") or "", [])
        accepted = p.get("received_at")
        before = [s for s in mine if accepted and s.occurred_at <= datetime.fromisoformat(accepted)]
        labels = {s.package_label for s in mine}
        complete = len({s.package_label for s in before}) >= (p.get("package_count") or 0)
        rows.append([p.get("manifest_number"), p.get("shipper_name"), p.get("shipper_license"),
                     p.get("package_count"), local(p.get("actual_arrival_at"), zone),
                     local(mine[0].occurred_at, zone) if mine else None,
                     local(mine[-1].occurred_at, zone) if mine else None, len(labels),
                     local(accepted, zone), "yes" if complete and accepted else "no"])
    return Table("manifests", "Manifests received", columns, rows)


def location_changes(found: Iterable[LoggedEvent], opens: datetime, zone: ZoneInfo) -> Table:
    """Return each physical move in the period with the METRC location change before it."""
    last_change: dict[str | None, LoggedEvent] = {}
    columns = [Column("moved at", "datetime"), Column("package"), Column("from"),
               Column("to"), Column("quantity", "number"), Column("unit"),
               Column("moved by"), Column("METRC change at", "datetime"),
               Column("METRC location"), Column("status")]
    rows = []
    for event in found:  # oldest first: a change is seen before the moves after it
        if event.type is T.LOCATION_CHANGE:
            last_change[event.package_label] = event
            continue
        if event.occurred_at < opens:
            continue
        p, change = event.payload, last_change.get(event.package_label)
        where = change.payload.get("location") if change else None
        status = ("no METRC change before the move" if change is None
                  else "METRC location differs" if where != p.get("to_location")
                  else "recorded before the move")
        rows.append([local(event.occurred_at, zone), event.package_label,
                     p.get("from_location"), p.get("to_location"), p.get("quantity"),
                     p.get("unit"), p.get("employee"),
                     local(change.occurred_at, zone) if change else None, where, status])
    return Table("locations", "METRC location changes against physical moves", columns, rows)


def surely_in_time(window: Deadline | None) -> timedelta | None:
    """Return how soon after a sale METRC's record is in time whatever the sale's hour
    (None: time is not judged). With a local clock deadline ("P1D at 08:00") that is its
    earliest due time after a sale, less an hour for a daylight-saving change."""
    if window is None:
        return None
    if window.at is None:
        return window.after
    clock = timedelta(hours=window.at.hour, minutes=window.at.minute)
    return max(window.after - timedelta(days=1) + clock - timedelta(hours=1), timedelta(0))


def reconcile_sales(log: ActivityLog, license_number: str, zone: ZoneInfo, opens: datetime,
                    closes: datetime, window: Deadline | None = None) -> list[Table]:
    """Return the period's POS-to-METRC sales reconciliation (see sales_reconciliation)."""
    agreeing, others = log.sale_matches(license_number, str(zone), opens, closes,
                                        surely_in_time(window))
    return sales_reconciliation(agreeing, others, zone, window)


def sales_reconciliation(agreeing: Iterable[AgreeingSales], others: Iterable[SaleMatch],
                         zone: ZoneInfo, window: Deadline | None = None) -> list[Table]:
    """Return the daily POS-to-METRC sales summary and the lines that do not agree.

    `agreeing` counts per day the pairs already known to agree; each of `others` is
    judged here. With the state's reporting `window`, a line METRC recorded after it is
    late (already reported, so not to be reported again) and listed with its delay; one
    never recorded is missing.
    """
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
    for sales in agreeing:
        day = days[sales.day.isoformat()]
        day[0] += sales.pos_lines
        day[1] += sales.metrc_lines
        day[2] += sales.pairs
    exceptions = []
    ordered = sorted(others, key=lambda m: (_first(m).first_at, m.receipt, m.package_label))
    for match in ordered:
        mine, theirs = match.pos, match.metrc
        when = _first(match).first_at
        day = days[when.astimezone(zone).date().isoformat()]
        day[0] += mine.lines if mine else 0
        day[1] += theirs.lines if theirs else 0
        timely = timeliness(mine, theirs, window, zone)
        if mine and theirs and abs(mine.quantity - theirs.quantity) <= SALE_QUANTITY_TOLERANCE:
            if not timely.startswith("late"):
                day[2] += 1
                continue
            status = "late"
        else:
            status = ("quantity mismatch" if mine and theirs
                      else "POS only: not in METRC" if mine else "METRC only: no POS line")
        day[{"late": 3, "quantity mismatch": 4,
             "POS only: not in METRC": 5}.get(status, 6)] += 1
        exceptions.append([local(when, zone), match.receipt, match.package_label,
                           mine.quantity if mine else None,
                           theirs.quantity if theirs else None, _first(match).unit,
                           status, timely])
    summary = Table("sales_daily", "POS-to-METRC sales reconciliation by day", [
        Column("date", "date"), Column("POS lines", "int"), Column("METRC lines", "int"),
        Column("matched in time", "int"), Column("late", "int"),
        Column("quantity mismatches", "int"), Column("POS only", "int"),
        Column("METRC only", "int")],
        [[d, *counts] for d, counts in sorted(days.items())])
    detail = Table("sales_exceptions", "POS-to-METRC sales lines that do not agree", [
        Column("sold at", "datetime"), Column("receipt"), Column("package"),
        Column("POS quantity", "number"), Column("METRC quantity", "number"), Column("unit"),
        Column("status"), Column("timeliness", width=60)], exceptions)
    return [summary, detail]




def _first(match: SaleMatch) -> SaleSide:
    """Return the side a pair is dated and described by: the POS's, else METRC's."""
    side = match.pos or match.metrc
    assert side is not None, "a sale match has at least one side"
    return side


def timeliness(pos: SaleSide | None, metrc: SaleSide | None, window: Deadline | None,
               zone: ZoneInfo) -> str:
    """Return whether METRC had a POS sale line in time, late (with the delay) or never."""
    if pos is None:
        return ""
    if metrc is None:
        return "missing: never reported to METRC"
    if window is None or metrc.recorded_at is None:
        return "reported (time not known)"
    reported = datetime.fromisoformat(metrc.recorded_at)
    due = window.due(pos.first_at, zone)
    if reported <= due:
        return "in time"
    return (f"late: reported {duration_text(reported - pos.first_at)} after the sale, "
            f"{duration_text(reported - due)} past the {window.describe()} window")


def counts_on_hand(counted: Iterable[tuple[LoggedEvent, PackageState]],
                   zone: ZoneInfo) -> Table:
    """Return each count line in the period against METRC's on-hand at that moment.

    On-hand is what METRC knows: accepted quantity, plus adjustments, less METRC sales.
    """
    columns = [Column("counted at", "datetime"), Column("count"), Column("location"),
               Column("package"), Column("item"), Column("category"),
               Column("counted", "number"), Column("METRC on hand", "number"),
               Column("variance", "number"), Column("unit"), Column("counted by")]
    rows = []
    for event, state in counted:
        p = event.payload
        counted_quantity, known = p.get("counted_quantity"), round(state.metrc, 6)
        variance = (round(counted_quantity - known, 6)
                    if isinstance(counted_quantity, int | float) else None)
        rows.append([local(event.occurred_at, zone), p.get("count_id"), p.get("location"),
                     event.package_label, state.item, state.category, counted_quantity, known,
                     variance, p.get("unit"), p.get("employee")])
    return Table("counts", "Cycle counts against METRC on hand", columns, rows)
