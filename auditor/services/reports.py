"""The inventory associate's reports, as tables for Excel and JSON.

reconciliation   daily POS-to-METRC sales: unmatched lines on each side, quantity mismatches
cycle-counts     physical against POS and METRC on hand, by location and category
velocity         weekly sales by category and product, and weeks of supply on hand
accuracy         share of counted packages that matched METRC, by week and category
replenishment    products low on the sales floor with stock in the vault
sell-soon        packages on hand, nearest expiration first, newly received marked
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from auditor.domain.errors import InvalidInput
from auditor.domain.events import EventType as T
from auditor.domain.license import License
from auditor.services.audit import local_bounds
from auditor.services.ledger import LEDGER_TYPES, Ledger, PackageState
from auditor.services.report_logs import local, sales_reconciliation
from auditor.services.report_ports import ActivityLog, LoggedEvent
from auditor.services.tables import Column, Table

MATCH_TOLERANCE = 1e-6
LOW_FLOOR_DAYS = 3.0  # fewer days of sales than this on the floor: replenish
NEW_DAYS = 7  # received this recently: "new" on the sell-soon list


@dataclass(frozen=True)
class Period:
    """A report's scope: license, local dates and their UTC bounds."""

    license: License
    start: date
    end: date
    opens: datetime
    closes: datetime

    @property
    def days(self) -> int:
        """Return the number of days in the period."""
        return (self.end - self.start).days + 1


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
    lines = log.events(period.license.number, (T.POS_SALE_LINE, T.METRC_SALE_LINE),
                       period.opens, period.closes)
    return sales_reconciliation(lines, period.license.zone())


def _counted(log: ActivityLog, period: Period) -> list[tuple[LoggedEvent, PackageState]]:
    """Return each count line in the period with a copy of its package's state then."""
    ledger, found = Ledger(), []
    for event in log.events(period.license.number, (*LEDGER_TYPES, T.COUNT_LINE), None,
                            period.closes):
        if event.type is not T.COUNT_LINE:
            ledger.apply(event)
        elif event.occurred_at >= period.opens:
            state = ledger.state(event.package_label)
            found.append((event, PackageState(**vars(state))))
    return found


def cycle_counts(log: ActivityLog, period: Period) -> list[Table]:
    """Return counts against POS and METRC on hand, by location and category, and per line."""
    zone = period.license.zone()
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0, 0])
    detail = []
    for event, state in _counted(log, period):
        counted = float(event.payload.get("counted_quantity") or 0.0)
        where = event.payload.get("location") or state.location
        group = groups[(where or "", state.category or "")]
        off_pos = abs(counted - state.pos) > MATCH_TOLERANCE
        off_metrc = abs(counted - state.metrc) > MATCH_TOLERANCE
        for i, value in enumerate((1, counted, state.pos, state.metrc, off_pos, off_metrc)):
            group[i] += value
        detail.append([local(event.occurred_at, zone), where, state.category, state.label,
                       state.item, counted, round(state.pos, 6), round(state.metrc, 6),
                       state.unit])
    summary = Table("count_summary", "Cycle counts by location and category", [
        Column("location"), Column("category"), Column("lines", "int"),
        Column("counted", "number"), Column("POS on hand", "number"),
        Column("METRC on hand", "number"), Column("lines off POS", "int"),
        Column("lines off METRC", "int")],
        [[*key, g[0], round(g[1], 6), round(g[2], 6), round(g[3], 6), g[4], g[5]]
         for key, g in sorted(groups.items())])
    lines = Table("count_lines", "Cycle count lines", [
        Column("counted at", "datetime"), Column("location"), Column("category"),
        Column("package"), Column("item"), Column("counted", "number"),
        Column("POS on hand", "number"), Column("METRC on hand", "number"), Column("unit")],
        detail)
    return [summary, lines]


def accuracy(log: ActivityLog, period: Period) -> list[Table]:
    """Return the share of counted packages matching METRC, by week and category."""
    weeks: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    zone = period.license.zone()
    for event, state in _counted(log, period):
        day = event.occurred_at.astimezone(zone).date()
        key = ((day - timedelta(days=day.weekday())).isoformat(), state.category or "")
        counted = float(event.payload.get("counted_quantity") or 0.0)
        weeks[key][0] += 1
        weeks[key][1] += abs(counted - state.metrc) <= MATCH_TOLERANCE
    return [Table("accuracy", "Inventory accuracy by week and category", [
        Column("week of", "date"), Column("category"), Column("counted", "int"),
        Column("matched", "int"), Column("accuracy %", "number")],
        [[*key, n, ok, round(100 * ok / n, 1)] for key, (n, ok) in sorted(weeks.items())])]


def _sales(log: ActivityLog, period: Period) -> tuple[Ledger, dict[tuple[str, str], float]]:
    """Return the ledger at the period's end and units sold per (category, product)."""
    ledger, sold = Ledger(), defaultdict[tuple[str, str], float](float)
    for event in log.events(period.license.number, LEDGER_TYPES, None, period.closes):
        ledger.apply(event)
        if event.type is T.POS_SALE_LINE and event.occurred_at >= period.opens \
                and not event.payload.get("voided"):
            state = ledger.state(event.package_label)
            sold[(state.category or "", state.item or "")] += float(
                event.payload.get("quantity") or 0.0)
    return ledger, sold


def velocity(log: ActivityLog, period: Period) -> list[Table]:
    """Return weekly sales by category and product, with weeks of supply on hand."""
    ledger, sold = _sales(log, period)
    on_hand: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0.0, None])
    for state in ledger.packages.values():
        entry = on_hand[(state.category or "", state.item or "")]
        entry[0] += max(state.metrc, 0.0)
        entry[1] = entry[1] or state.unit
    weeks = period.days / 7
    rows = []
    for key in sorted(set(sold) | {k for k, v in on_hand.items() if v[0] > 0}):
        weekly = sold.get(key, 0.0) / weeks
        stock, unit = on_hand[key]
        rows.append([*key, unit, round(sold.get(key, 0.0), 3), round(weekly, 3),
                     round(stock, 3), round(stock / weekly, 1) if weekly else None])
    return [Table("velocity", "Sales velocity and weeks of supply", [
        Column("category"), Column("product"), Column("unit"), Column("sold", "number"),
        Column("sold per week", "number"), Column("on hand", "number"),
        Column("weeks of supply", "number")], rows)]


def replenishment(log: ActivityLog, period: Period) -> list[Table]:
    """Return products with fewer than LOW_FLOOR_DAYS of sales on the floor and vault stock."""
    ledger, sold = _sales(log, period)
    floor, vault = set(period.license.sales_floor_locations), set(period.license.vault_locations)
    stock: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0.0, 0.0, None, []])
    for state in ledger.packages.values():
        entry = stock[(state.category or "", state.item or "")]
        held = max(state.metrc, 0.0)
        entry[0] += held if state.location in floor else 0.0
        if state.location in vault and held > 0:
            entry[1] += held
            entry[3].append(state.label)
        entry[2] = entry[2] or state.unit
    rows = []
    for key, (on_floor, in_vault, unit, labels) in sorted(stock.items()):
        daily = sold.get(key, 0.0) / period.days
        days_left = on_floor / daily if daily else None
        if in_vault > 0 and (days_left is not None and days_left < LOW_FLOOR_DAYS):
            rows.append([*key, unit, round(on_floor, 3), round(in_vault, 3), round(daily, 3),
                         round(days_left, 1), ", ".join(sorted(labels))])
    return [Table("replenishment", "Replenish the sales floor from the vault", [
        Column("category"), Column("product"), Column("unit"), Column("on floor", "number"),
        Column("in vault", "number"), Column("sold per day", "number"),
        Column("days on floor", "number"), Column("vault packages")], rows)]


def sell_soon(log: ActivityLog, period: Period) -> list[Table]:
    """Return packages on hand, nearest expiration first, with newly received ones marked."""
    ledger, _ = _sales(log, period)
    zone, fresh = period.license.zone(), period.closes - timedelta(days=NEW_DAYS)
    held = [s for s in ledger.packages.values() if s.metrc > MATCH_TOLERANCE and s.label]
    held.sort(key=lambda s: (s.expires or "9999", -(s.received_at or fresh).timestamp(),
                             s.label))
    rows = [[s.expires, s.category, s.item, s.label, round(s.metrc, 3), s.unit, s.location,
             local(s.received_at, zone),
             "new" if s.received_at and s.received_at >= fresh else ""] for s in held]
    return [Table("sell_soon", "Sell soon (nearest expiration first) and new arrivals", [
        Column("expires", "date"), Column("category"), Column("product"), Column("package"),
        Column("on hand", "number"), Column("unit"), Column("location"),
        Column("received", "datetime"), Column("new")], rows)]


REPORTS: dict[str, Builder] = {
    "reconciliation": reconciliation, "cycle-counts": cycle_counts, "velocity": velocity,
    "accuracy": accuracy, "replenishment": replenishment, "sell-soon": sell_soon,
}
