"""The reports' history-dependent figures as grouped sums over the event store.

A package's on-hand at a moment is the rule language's `ON_HAND` summed over its events
before that moment, in one grouped query; the few events that describe a package
(accepted manifest lines, METRC package snapshots, physical moves) are folded by the
reports' own `Ledger`, so both readers describe a package the same way. The queries are
SQLAlchemy Core over `sql_fields.Fields`, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    DateTime,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)

from auditor.domain.events import EventType as T
from auditor.domain.license import License
from auditor.rules.language import ON_HAND, Term
from auditor.services.ledger import LEDGER_TYPES, Ledger
from auditor.services.report_ports import (
    SALE_QUANTITY_TOLERANCE,
    AgreeingSales,
    LoggedEvent,
    PackageState,
    SaleMatch,
    SaleSide,
    WeekSales,
)
from auditor.store.schema import UTCDateTime, events, licenses
from auditor.store.sql_fields import Fields, holds, zoned

# What the Ledger reads from the events that describe a package (not their quantities).
DESCRIBING = (T.MANIFEST_PACKAGE, T.PACKAGE_SNAPSHOT, T.MOVE)
DESCRIPTION = ("item_name", "category", "unit", "received_unit", "shipment_state",
               "location", "to_location", "expiration_date", "sell_by_date", "use_by_date")
METRC_TYPES = sorted({term.type for term in ON_HAND["metrc"]})


def license_of(conn: Connection, number: str) -> tuple[int, License] | None:
    """Return the license's row id and the license (for its zone), or None if unknown."""
    row = conn.execute(select(licenses.c.id, licenses.c.state, licenses.c.timezone)
                       .where(licenses.c.number == number)).first()
    return None if row is None else (row.id, License(number, row.state, row.timezone))


def text_of(alias: Any, dialect: str, name: str) -> ColumnElement[Any]:
    """Return a payload field as stored text (dates stay ISO text, as the Ledger reads them)."""
    if zoned(dialect):
        return alias.c.payload.op("->>", return_type=String)(literal(name, String))
    return func.json_extract(alias.c.payload, f"$.{name}")


def computed_once(query: Select[Any], name: str) -> CTE:
    """Return a query's rows as a table worked out once, before the query that groups them.

    Given the payload reads as a subquery, SQLite would fold them into the grouping query
    and carry each event's whole payload through the GROUP BY sort, reading it after; as
    a MATERIALIZED CTE only the values read are sorted (a third less CPU on a year).
    """
    return query.cte(name).prefix_with("MATERIALIZED")


def _part(fields: Fields, side: str) -> ColumnElement[Any]:
    """Return an event's signed part in one side's on-hand (the terms of language.ON_HAND)."""
    parts = [_term(fields, term) for term in ON_HAND[side]]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _term(fields: Fields, term: Term) -> ColumnElement[Any]:
    """Return an event's signed part in an on-hand (0 for an event the term does not count)."""
    counts = [fields.alias.c.type == term.type]
    if term.only_if is not None:
        counts.append(fields[term.only_if[0]] == term.only_if[1])
    if term.unless is not None:
        counts.append(not_(holds(fields[term.unless] == True)))  # noqa: E712 - SQL
    return case((and_(*counts), func.coalesce(fields[term.field], 0.0) * term.sign), else_=0.0)


def on_hands(conn: Connection, license_id: int, license: License,
             at: datetime) -> dict[str, float]:
    """Return {label: METRC on hand} from the events before `at`."""
    e = events.alias("e")
    fields = Fields(e, conn.dialect.name, license)
    parts = computed_once(
        select(e.c.package_label, _part(fields, "metrc").label("part"))
        .where(e.c.license_id == license_id, e.c.type.in_(METRC_TYPES),
               e.c.occurred_at < at, e.c.package_label.is_not(None)), "parts")
    query = (select(parts.c.package_label, func.sum(parts.c.part))
             .group_by(parts.c.package_label))
    return {row[0]: float(row[1] or 0.0) for row in conn.execute(query)}


def described(conn: Connection, license_id: int, at: datetime) -> dict[str, PackageState]:
    """Return each package's description (item, unit, location, expiry, receipt) before `at`."""
    e = events.alias("e")
    dialect = conn.dialect.name
    query = (select(e.c.id, e.c.type, e.c.occurred_at, e.c.package_label,
                    *(text_of(e, dialect, name).label(name) for name in DESCRIPTION))
             .where(e.c.license_id == license_id, e.c.type.in_([t.value for t in DESCRIBING]),
                    e.c.occurred_at < at, e.c.package_label.is_not(None))
             .order_by(e.c.occurred_at, e.c.id))
    ledger = Ledger()
    for row in conn.execute(query):
        payload = {name: row._mapping[name] for name in DESCRIPTION
                   if row._mapping[name] is not None}
        # The Ledger also adds an accepted line's quantity; on-hands come from on_hands().
        ledger.apply(LoggedEvent(row.id, T(row.type), row.occurred_at, row.package_label,
                                 None, payload))
    return ledger.packages


def _pos_described(conn: Connection, license_id: int, at: datetime,
                   labels: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return, for packages known only from POS lines, the first line's product."""
    wanted = sorted(labels)
    if not wanted:
        return {}
    e = events.alias("e")
    dialect = conn.dialect.name
    query = (select(e.c.package_label, text_of(e, dialect, "product_name"),
                    text_of(e, dialect, "category"), text_of(e, dialect, "unit"))
             .where(e.c.license_id == license_id, e.c.type == T.POS_SALE_LINE.value,
                    e.c.occurred_at < at, e.c.package_label.in_(wanted))
             .order_by(e.c.occurred_at.desc(), e.c.id.desc()))
    # Newest first, so the dict keeps each package's first line.
    return {row[0]: {"item_name": row[1], "category": row[2], "unit": row[3]}
            for row in conn.execute(query)}


def descriptions(conn: Connection, license_id: int, at: datetime) -> dict[str, PackageState]:
    """Return every package with an event before `at`, described as the Ledger would (no
    quantities): from its manifest lines, snapshots and moves, else its first POS line."""
    states = described(conn, license_id, at)
    e = events.alias("e")
    seen = (select(e.c.package_label).distinct()  # an index-only scan: no payload read
            .where(e.c.license_id == license_id, e.c.type.in_([t.value for t in LEDGER_TYPES]),
                   e.c.occurred_at < at, e.c.package_label.is_not(None)))
    for label in {row[0] for row in conn.execute(seen)} - states.keys():
        states[label] = PackageState(label)
    unnamed = [label for label, s in states.items() if s.item is None]
    for label, named in _pos_described(conn, license_id, at, unnamed).items():
        state = states[label]
        state.item, state.category = named["item_name"], state.category or named["category"]
        state.unit = state.unit or named["unit"]
    return states


def packages_at(conn: Connection, license_id: int, license: License,
                at: datetime) -> dict[str, PackageState]:
    """Return every package's state from its events before `at` (METRC's on-hand only:
    pos stays 0, no caller of this needs it and it would double the rows summed)."""
    states = descriptions(conn, license_id, at)
    for label, metrc in on_hands(conn, license_id, license, at).items():
        states[label].metrc = metrc
    return states


def counted(conn: Connection, license_id: int, license: License, start: datetime,
            end: datetime) -> list[tuple[LoggedEvent, PackageState]]:
    """Return each count line of [start, end) with its package's on-hands at its time."""
    c = events.alias("c")
    fields = Fields(c, conn.dialect.name, license)
    query = (select(c.c.id, c.c.occurred_at, c.c.package_label, c.c.reference, c.c.payload,
                    fields.on_hand("metrc"), fields.on_hand("pos"))
             .where(c.c.license_id == license_id, c.c.type == T.COUNT_LINE.value,
                    c.c.occurred_at >= start, c.c.occurred_at < end)
             .order_by(c.c.occurred_at, c.c.id))
    lines = conn.execute(query).all()
    states = descriptions(conn, license_id, end) if lines else {}
    found = []
    for row in lines:
        label = row.package_label or ""
        state = replace(states.get(label) or PackageState(label), metrc=float(row[5]),
                        pos=float(row[6]))
        found.append((LoggedEvent(row.id, T.COUNT_LINE, row.occurred_at, row.package_label,
                                  row.reference, row.payload), state))
    return found


def bucket(moment: ColumnElement[Any], starts: Sequence[tuple[str, datetime]]
           ) -> ColumnElement[Any]:
    """Return the name of the bucket a time falls in, given each bucket's (name, start),
    oldest first, as a binary search of comparisons: a few per row, where a local date
    per row would call into Python on SQLite for every row."""
    if len(starts) == 1:
        return literal(starts[0][0], String)
    middle = len(starts) // 2
    return case((moment < literal(starts[middle][1], UTCDateTime),
                 bucket(moment, starts[:middle])),
                else_=bucket(moment, starts[middle:]))


def day_starts(license: License, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """Return each local day of [start, end) as (ISO date, when it starts there)."""
    zone = license.zone()
    day = start.astimezone(zone).date()
    found = [(day.isoformat(), start)]
    while True:
        day += timedelta(days=1)
        begins = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        if begins >= end:
            return found
        found.append((day.isoformat(), begins))


def sales_by_week(conn: Connection, license_id: int, license: License,
                  weeks: Sequence[tuple[date, datetime]], end: datetime) -> list[WeekSales]:
    """Return POS sales (voided aside) per package and week (Monday, sales start)."""
    e = events.alias("e")
    fields = Fields(e, conn.dialect.name, license)
    week = bucket(e.c.occurred_at, [(m.isoformat(), start) for m, start in weeks])
    quantity = func.coalesce(fields["quantity"], 0.0)
    dollars = func.coalesce(fields["total_price"], func.coalesce(fields["unit_price"], 0.0)
                            * quantity)
    lines = computed_once(
        select(e.c.package_label, week.label("week"), quantity.label("quantity"),
               dollars.label("dollars"))
        .where(e.c.license_id == license_id, e.c.type == T.POS_SALE_LINE.value,
               e.c.occurred_at >= weeks[0][1], e.c.occurred_at < end,
               not_(holds(fields["voided"] == True))), "lines")  # noqa: E712 - SQL
    query = (select(lines.c.package_label, lines.c.week, func.sum(lines.c.quantity),
                    func.sum(lines.c.dollars), func.count())
             .group_by(lines.c.package_label, lines.c.week))
    return [WeekSales(row[0] or "", date.fromisoformat(row[1]), float(row[2]), float(row[3]),
                      row[4]) for row in conn.execute(query)]


def sale_matches(conn: Connection, license_id: int, license: License, start: datetime,
                 end: datetime, surely_in_time: timedelta | None) -> tuple[
                     list[AgreeingSales], list[SaleMatch]]:
    """Return the period's agreeing sale pairs counted per local day, the others in full.

    One pass: the lines are paired by receipt and package, then the agreeing pairs are
    grouped by day and every other pair stays a group of its own.
    """
    e = events.alias("e")
    dialect = conn.dialect.name
    fields = Fields(e, dialect, license)
    is_pos = e.c.type == T.POS_SALE_LINE.value
    receipt = func.coalesce(case((is_pos, fields["receipt_id"]),
                                 else_=fields["external_receipt_number"]), "")
    # When METRC recorded a line matters only where time is judged: else not read.
    recorded = (case((not_(is_pos), text_of(e, dialect, "recorded_at")))
                if surely_in_time is not None else literal(None, String))
    lines = computed_once(
        select(is_pos.label("pos"), receipt.label("receipt"),
               func.coalesce(e.c.package_label, "").label("label"), e.c.occurred_at,
               func.coalesce(fields["quantity"], 0.0).label("quantity"),
               text_of(e, dialect, "unit").label("unit"), recorded.label("recorded"))
        .where(e.c.license_id == license_id,
               e.c.type.in_([T.POS_SALE_LINE.value, T.METRC_SALE_LINE.value]),
               e.c.occurred_at >= start, e.c.occurred_at < end,
               not_(and_(is_pos, holds(fields["voided"] == True)))),  # noqa: E712 - SQL
        "lines")

    def side(mine: ColumnElement[bool], name: str) -> list[ColumnElement[Any]]:
        return [func.min(case((mine, lines.c.occurred_at))).label(f"{name}_first"),
                func.sum(case((mine, lines.c.quantity), else_=0.0)).label(f"{name}_quantity"),
                func.min(case((mine, lines.c.unit))).label(f"{name}_unit"),
                func.sum(case((mine, 1), else_=0)).label(f"{name}_lines")]

    pairs = (select(lines.c.receipt, lines.c.label, *side(lines.c.pos, "pos"),
                    *side(not_(lines.c.pos), "metrc"),
                    func.max(lines.c.recorded).label("recorded"))
             .group_by(lines.c.receipt, lines.c.label).subquery("pairs"))
    dated = select(pairs, func.coalesce(pairs.c.pos_first, pairs.c.metrc_first)
                   .label("occurred_at")).subquery("dated")
    agree = and_(dated.c.pos_lines > 0, dated.c.metrc_lines > 0,
                 func.abs(dated.c.pos_quantity - dated.c.metrc_quantity)
                 <= SALE_QUANTITY_TOLERANCE)
    if surely_in_time is not None:
        if zoned(dialect):
            in_time = (cast(dated.c.recorded, DateTime(timezone=True))
                       <= dated.c.occurred_at + literal(surely_in_time))
        else:  # whole milliseconds apart: Julian days are floats, a boundary must not wobble
            apart = func.round((func.julianday(dated.c.recorded)
                                - func.julianday(dated.c.occurred_at)) * 86_400_000)
            in_time = apart <= surely_in_time / timedelta(milliseconds=1)
        agree = and_(agree, or_(dated.c.recorded.is_(None), in_time))
    # Agreeing pairs share a blank key, so they group by day; the others stay one a group.
    judged = select(dated, bucket(dated.c.occurred_at, day_starts(license, start, end))
                    .label("day"),
                    case((agree, 1), else_=0).label("agrees"),
                    *(case((agree, ""), else_=dated.c[name]).label(f"one_{name}")
                      for name in ("receipt", "label"))).subquery("judged")
    keys = (judged.c.day, judged.c.agrees, judged.c.one_receipt, judged.c.one_label)
    query = (select(*keys, func.sum(judged.c.pos_lines), func.sum(judged.c.metrc_lines),
                    func.count(),
                    *(type_coerce(func.min(judged.c[f"{name}_first"]), UTCDateTime)
                      for name in ("pos", "metrc")),
                    func.sum(judged.c.pos_quantity), func.min(judged.c.pos_unit),
                    func.sum(judged.c.metrc_quantity), func.min(judged.c.metrc_unit),
                    func.max(judged.c.recorded))
             .group_by(*keys))
    agreeing, others = [], []
    for row in conn.execute(query):
        day = date.fromisoformat(row[0])
        if row[1]:
            agreeing.append(AgreeingSales(day, int(row[4]), int(row[5]), int(row[6])))
            continue
        pos = SaleSide(row[7], float(row[9]), row[10], int(row[4])) if row[4] else None
        metrc = (SaleSide(row[8], float(row[11]), row[12], int(row[5]), row[13])
                 if row[5] else None)
        others.append(SaleMatch(row[2], row[3], pos, metrc))
    return sorted(agreeing, key=lambda a: a.day), others
