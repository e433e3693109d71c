"""The associate's stock reports: what sells, what to bring out, what to sell first.

velocity       units and dollars sold per product, week by week, and weeks of supply
replenishment  how many units to bring to the floor, and from which vault packages
               (first-expiring first)
sell-soon      packages on hand ranked by days to expiry, then age on hand; packages
               without an expiry date ranked by age and marked

Each reads the period's POS sales grouped by package and week, and every package's
state at the period's close (`ActivityLog.packages_at`): no history is replayed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date
from typing import Any

from auditor.services.report_logs import local
from auditor.services.report_period import Period
from auditor.services.report_ports import ActivityLog, PackageState
from auditor.services.tables import Column, Table

HELD = 1e-6  # less than this on hand is an empty package
LOW_FLOOR_DAYS = 3.0  # fewer days of sales than this on the floor: replenish
TARGET_FLOOR_DAYS = 7.0  # bring the floor up to this many days of sales
NEW_DAYS = 7  # received this recently: "new" on the sell-soon list
NO_EXPIRY = "no expiry date: ranked by age"

Product = tuple[str, str]  # (category, product name)


def product(state: PackageState | None) -> Product:
    """Return the (category, product) a package is reported under."""
    return ("", "") if state is None else (state.category or "", state.item or "")


def _sales(log: ActivityLog, period: Period) -> tuple[
        dict[str, PackageState], dict[Product, dict[date, list[float]]]]:
    """Return every package's state at the close, and per product {week: [units, $]}."""
    number = period.license.number
    packages = log.packages_at(number, period.closes)
    sold: dict[Product, dict[date, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0]))
    for week in log.sales_by_week(number, period.week_starts(), period.closes):
        entry = sold[product(packages.get(week.package_label))][week.week]
        entry[0] += week.quantity
        entry[1] += week.dollars
    return packages, sold


def _units(weeks: dict[date, list[float]] | None) -> float:
    return sum(units for units, _ in weeks.values()) if weeks else 0.0


def velocity(log: ActivityLog, period: Period) -> list[Table]:
    """Return units and dollars sold per product, week by week, with weeks of supply."""
    packages, sold = _sales(log, period)
    on_hand: dict[Product, list[Any]] = defaultdict(lambda: [0.0, None])
    for state in packages.values():
        entry = on_hand[product(state)]
        entry[0] += max(state.metrc, 0.0)
        entry[1] = entry[1] or state.unit
    weeks, span = period.weeks(), period.days / 7
    rows = []
    for key in sorted(set(sold) | {k for k, v in on_hand.items() if v[0] > 0}):
        by_week = sold.get(key, {})
        # Rounded before dividing: sums added in another order give the same figures.
        units = round(_units(by_week), 6)
        dollars = round(sum(d for _, d in by_week.values()), 2)
        weekly = units / span
        stock, unit = on_hand[key]
        rows.append([*key, unit, round(units, 3), round(dollars, 2), round(weekly, 3),
                     round(dollars / span, 2), round(stock, 3),
                     round(stock / weekly, 1) if weekly else None,
                     *(round(by_week[w][0], 3) if w in by_week else 0.0 for w in weeks)])
    return [Table("velocity", "Sales velocity, week by week, and weeks of supply", [
        Column("category"), Column("product"), Column("unit"), Column("sold", "number"),
        Column("sales $", "number"), Column("sold per week", "number"),
        Column("sales $ per week", "number"), Column("on hand", "number"),
        Column("weeks of supply", "number"),
        *(Column(f"week of {w.isoformat()}", "number") for w in weeks)], rows)]


def _first_expiring(state: PackageState) -> tuple[str, float, str]:
    """Sort key: expiry date (undated last), then oldest received, then tag."""
    received = state.received_at.timestamp() if state.received_at else math.inf
    return (state.expires or "9999-12-31", received, state.label)


def replenishment(log: ActivityLog, period: Period) -> list[Table]:
    """Return what to move to the floor: per product low on the floor (under
    LOW_FLOOR_DAYS of sales) with vault stock, the units to bring it to TARGET_FLOOR_DAYS
    and the vault packages to take them from, first-expiring first (one row each)."""
    packages, sold = _sales(log, period)
    floor, vault = set(period.license.sales_floor_locations), set(period.license.vault_locations)
    stock: dict[Product, list[Any]] = defaultdict(lambda: [0.0, [], None])
    for state in packages.values():
        entry = stock[product(state)]
        held = max(state.metrc, 0.0)
        entry[0] += held if state.location in floor else 0.0
        if state.location in vault and held > HELD:
            entry[1].append(state)
        entry[2] = entry[2] or state.unit
    rows = []
    for key, (on_floor, in_vault, unit) in sorted(stock.items()):
        daily = round(_units(sold.get(key)), 6) / period.days
        days_left = on_floor / daily if daily else None
        if not in_vault or days_left is None or days_left >= LOW_FLOOR_DAYS:
            continue
        wanted = _whole(daily * TARGET_FLOOR_DAYS - on_floor, unit)
        total = sum(s.metrc for s in in_vault)
        to_move = min(wanted, total)
        for state in sorted(in_vault, key=_first_expiring):
            take = min(state.metrc, wanted)
            if take <= HELD:
                break
            wanted -= take
            rows.append([*key, unit, round(on_floor, 3), round(daily, 3), round(days_left, 1),
                         round(total, 3), round(to_move, 3), state.label, state.expires,
                         round(take, 3)])
    return [Table("replenishment", "Replenish the sales floor from the vault "
                  "(first-expiring packages first)", [
        Column("category"), Column("product"), Column("unit"), Column("on floor", "number"),
        Column("sold per day", "number"), Column("days on floor", "number"),
        Column("in vault", "number"), Column("units to move", "number"),
        Column("from vault package"), Column("package expires", "date"),
        Column("move from this package", "number")], rows)]


def _whole(quantity: float, unit: str | None) -> float:
    """Return a quantity to move, rounded up: whole items when counted in `Each`."""
    if quantity <= 0:
        return 0.0
    return float(math.ceil(quantity - HELD)) if unit == "Each" else math.ceil(
        quantity * 1000 - HELD) / 1000


def sell_soon(log: ActivityLog, period: Period) -> list[Table]:
    """Return packages on hand ranked by days to expiry, then by age on hand (oldest
    first); packages without an expiry date come after, by age, and are marked."""
    zone = period.license.zone()
    packages = log.packages_at(period.license.number, period.closes)
    ranked = []
    for s in packages.values():
        if s.metrc <= HELD:
            continue
        left = (date.fromisoformat(s.expires[:10]) - period.end).days if s.expires else None
        age = (period.end - s.received_at.astimezone(zone).date()).days \
            if s.received_at else None
        marks = ["expired" if left is not None and left < 0 else "",
                 NO_EXPIRY if left is None else "",
                 "new" if age is not None and age < NEW_DAYS else ""]
        ranked.append(((left is None, left if left is not None else 0,
                        -(age if age is not None else -1), s.label),
                       [left, age, s.expires, s.category, s.item, s.label, round(s.metrc, 3),
                        s.unit, s.location, local(s.received_at, zone),
                        "; ".join(m for m in marks if m)]))
    ranked.sort(key=lambda pair: pair[0])
    return [Table("sell_soon", "Sell soon: by days to expiry, then age on hand "
                  "(no expiry date: by age, marked)", [
        Column("rank", "int"), Column("days to expiry", "int"),
        Column("days on hand", "int"), Column("expires", "date"), Column("category"),
        Column("product"), Column("package"), Column("on hand", "number"), Column("unit"),
        Column("location"), Column("received", "datetime"), Column("mark", width=32)],
        [[i, *row] for i, (_, row) in enumerate(ranked, start=1)])]
