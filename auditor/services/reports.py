"""The inventory associate's reports, as tables for Excel and JSON.

reconciliation   daily POS-to-METRC sales: unmatched lines on each side, quantity mismatches
cycle-counts     physical against POS and METRC on hand, by location and category, each
                 line's variance and the METRC adjustment that explained it
velocity         units and dollars sold per product, week by week, and weeks of supply
accuracy         share of counted packages that matched METRC, by week and category
replenishment    units to bring to the floor and from which vault packages, first-expiring first
sell-soon        packages on hand by days to expiry and age on hand, undated ones marked

History-dependent figures (on-hand at a count, at the period's close) come from the
activity log's aggregates; the reports read only the period's events besides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from auditor.domain.errors import InvalidInput
from auditor.domain.events import EventType as T
from auditor.domain.license import License
from auditor.services.audit import local_bounds
from auditor.services.report_logs import local, reconcile_sales
from auditor.services.report_period import Period
from auditor.services.report_ports import ActivityLog, LoggedEvent
from auditor.services.stock_reports import replenishment, sell_soon, velocity
from auditor.services.tables import Column, Table

__all__ = ["REPORTS", "Period", "build_report", "replenishment", "report_tables",
           "sell_soon"]

MATCH_TOLERANCE = 1e-6

Builder = Callable[[ActivityLog, Period], list[Table]]


def build_report(name: str, log: ActivityLog, license: License, start: date,
                 end: date) -> dict[str, Any]:
    """Return a report as JSON-safe content: its name, scope and tables."""
    if name not in REPORTS:
        raise InvalidInput(f"unknown report {name!r}: choose from {', '.join(REPORTS)}")
    period = Period(license, start, end, *local_bounds(license, start, end))
    tables = REPORTS[name](log, period)
    return {"report": name, "license": license.number,
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "tables": [t.as_json() for t in tables]}


def report_tables(report: dict[str, Any]) -> list[Table]:
    """Return a built report's tables (for the Excel writer)."""
    return [Table.from_json(t) for t in report["tables"]]


def reconciliation(log: ActivityLog, period: Period) -> list[Table]:
    """Return the daily POS-to-METRC reconciliation and its exceptions."""
    return reconcile_sales(log, period.license.number, period.license.zone(), period.opens,
                           period.closes)


def _explaining(log: ActivityLog, period: Period) -> dict[str, list[LoggedEvent]]:
    """Return the period's METRC adjustments per package, oldest first."""
    found: dict[str, list[LoggedEvent]] = defaultdict(list)
    for event in log.events(period.license.number, (T.ADJUSTMENT,), period.opens,
                            period.closes):
        found[event.package_label or ""].append(event)
    return found


def _adjustment(after: LoggedEvent, adjustments: list[LoggedEvent]) -> list[Any]:
    """Return when, by how much and why the package was adjusted first after a count line."""
    for event in adjustments:
        if event.occurred_at >= after.occurred_at:
            p = event.payload
            return [event.occurred_at, p.get("quantity"), p.get("reason"), p.get("note")]
    return [None, None, None, None]


def cycle_counts(log: ActivityLog, period: Period) -> list[Table]:
    """Return counts against POS and METRC on hand, by location and category, and per line
    with its variance from METRC and the METRC adjustment after it that explained it."""
    zone = period.license.zone()
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0, 0])
    adjustments, detail = _explaining(log, period), []
    for event, state in log.counted(period.license.number, period.opens, period.closes):
        counted = float(event.payload.get("counted_quantity") or 0.0)
        where = event.payload.get("location") or state.location
        group = groups[(where or "", state.category or "")]
        off_pos = abs(counted - state.pos) > MATCH_TOLERANCE
        off_metrc = abs(counted - state.metrc) > MATCH_TOLERANCE
        for i, value in enumerate((1, counted, state.pos, state.metrc, off_pos, off_metrc)):
            group[i] += value
        adjusted = (_adjustment(event, adjustments.get(state.label, [])) if off_metrc
                    else [None] * 4)
        detail.append([local(event.occurred_at, zone), where, state.category, state.label,
                       state.item, counted, round(state.pos, 6), round(state.metrc, 6),
                       round(counted - state.metrc, 6), state.unit,
                       local(adjusted[0], zone), *adjusted[1:]])
    summary = Table("count_summary", "Cycle counts by location and category", [
        Column("location"), Column("category"), Column("lines", "int"),
        Column("counted", "number"), Column("POS on hand", "number"),
        Column("METRC on hand", "number"), Column("lines off POS", "int"),
        Column("lines off METRC", "int")],
        [[*key, g[0], round(g[1], 6), round(g[2], 6), round(g[3], 6), g[4], g[5]]
         for key, g in sorted(groups.items())])
    lines = Table("count_lines", "Cycle count lines: variance from METRC and the "
                  "adjustment that explained it", [
        Column("counted at", "datetime"), Column("location"), Column("category"),
        Column("package"), Column("item"), Column("counted", "number"),
        Column("POS on hand", "number"), Column("METRC on hand", "number"),
        Column("variance", "number"), Column("unit"), Column("adjusted at", "datetime"),
        Column("adjustment", "number"), Column("reason"), Column("note", width=40)],
        detail)
    return [summary, lines]


def accuracy(log: ActivityLog, period: Period) -> list[Table]:
    """Return the share of counted packages matching METRC, by week and category."""
    weeks: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    zone = period.license.zone()
    for event, state in log.counted(period.license.number, period.opens, period.closes):
        day = event.occurred_at.astimezone(zone).date()
        key = ((day - timedelta(days=day.weekday())).isoformat(), state.category or "")
        counted = float(event.payload.get("counted_quantity") or 0.0)
        weeks[key][0] += 1
        weeks[key][1] += abs(counted - state.metrc) <= MATCH_TOLERANCE
    return [Table("accuracy", "Inventory accuracy by week and category", [
        Column("week of", "date"), Column("category"), Column("counted", "int"),
        Column("matched", "int"), Column("accuracy %", "number")],
        [[*key, n, ok, round(100 * ok / n, 1)] for key, (n, ok) in sorted(weeks.items())])]


REPORTS: dict[str, Builder] = {
    "reconciliation": reconciliation, "cycle-counts": cycle_counts, "velocity": velocity,
    "accuracy": accuracy, "replenishment": replenishment, "sell-soon": sell_soon,
}
