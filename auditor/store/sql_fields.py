"""Read event fields and build conditions in SQL, the same way on SQLite and PostgreSQL.

Payload fields are read with each dialect's JSON operator and cast by their kind;
times are compared as timestamps (PostgreSQL) or Julian days (SQLite, which stores
text); derived fields (local_date, on_hand) and license values are resolved here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Double,
    String,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)

from auditor.domain.license import License
from auditor.domain.rules import Deadline
from auditor.rules.language import (
    COLUMNS,
    KNOWN_PACKAGE_TYPES,
    LICENSE_PREFIX,
    ON_HAND,
    STATE_PREFIX,
    Kind,
    Term,
    kind_of,
    typed_value,
)
from auditor.rules.params import Condition, EventRef
from auditor.store.engine import UNIX_EPOCH_JULIAN_DAY
from auditor.store.schema import events

# PostgreSQL's and DuckDB's ->> give text. DOUBLE, not FLOAT: DuckDB's FLOAT is 4 bytes.
CASTS = {Kind.NUMBER: Double, Kind.DATE: Date, Kind.BOOLEAN: Boolean}
# Dialects with zone-aware timestamps and JSON's ->> (DuckDB reads the PostgreSQL way);
# SQLite stores times as text and compares them as Julian days.
ZONED_DIALECTS = frozenset({"postgresql", "duckdb"})


def zoned(dialect: str) -> bool:
    """Return whether a dialect compares times as zone-aware timestamps (not SQLite)."""
    return dialect in ZONED_DIALECTS


class FieldReader(Protocol):
    """Anything that reads a field by name as a SQL expression (a package's state)."""

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        """Return the field's value."""


class Fields:
    """Reads an event alias's fields in one dialect, typed by what the field holds.

    `state.X` reads field X of the state alias (state_at_time); `local_date` is the
    event's calendar date in the license's zone; "@license.NAME" values come from the
    license being audited.
    """

    def __init__(self, alias: Any, dialect: str, license: License,
                 state: FieldReader | None = None) -> None:
        self.alias, self.dialect, self.license, self.state = alias, dialect, license, state

    def value(self, raw: Any, field: str) -> Any:
        """Return a condition's value typed as its field, "@license.NAME" from the license."""
        if isinstance(raw, str) and raw.startswith(LICENSE_PREFIX):
            found = getattr(self.license, raw.removeprefix(LICENSE_PREFIX))
            return list(found) if isinstance(found, tuple) else found
        return typed_value(field, raw)

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        if name.startswith(STATE_PREFIX) and self.state is not None:
            return self.state[name.removeprefix(STATE_PREFIX)]
        if name == "local_date":
            return self._local_date()
        if name == "on_hand":
            return self.on_hand("metrc")
        if name in COLUMNS:
            return self.alias.c[name]
        if zoned(self.dialect):
            text = self.alias.c.payload.op("->>", return_type=String)(literal(name, String))
            kind = CASTS.get(kind_of(name))
            return text if kind is None else cast(text, kind)
        return func.json_extract(self.alias.c.payload, f"$.{name}")

    def on_hand(self, side: str) -> ColumnElement[Any]:
        """Return one side's quantity of the package at the event's time (language.ON_HAND)."""
        total: ColumnElement[Any] = literal(0.0)
        for term in ON_HAND[side]:
            total = total + term.sign * self._term_sum(term)
        return total

    def _term_sum(self, term: Term) -> ColumnElement[Any]:
        other = events.alias(f"{term.type}_sum")
        of = Fields(other, self.dialect, self.license)
        where = []
        if term.only_if is not None:
            where.append(of[term.only_if[0]] == term.only_if[1])
        if term.unless is not None:
            where.append(not_(holds(of[term.unless] == True)))  # noqa: E712 - SQL
        return func.coalesce(select(func.sum(of[term.field])).where(
            other.c.license_id == self.alias.c.license_id, other.c.type == term.type,
            other.c.package_label == self.alias.c.package_label,
            other.c.occurred_at <= self.alias.c.occurred_at, *where)
            .correlate(self.alias).scalar_subquery(), 0)

    def _local_date(self) -> ColumnElement[Any]:
        zone = self.license.timezone
        if zoned(self.dialect):
            return cast(func.timezone(zone, self.alias.c.occurred_at), Date)
        return func.auditor_local_date(self.alias.c.occurred_at, zone)  # see store.engine

    def time(self, name: str = "occurred_at") -> ColumnElement[Any]:
        """Return a time field (the event time by default) comparable across formats."""
        if zoned(self.dialect):
            if name == "occurred_at":
                return self.alias.c.occurred_at
            return cast(self[name], DateTime(timezone=True))
        return func.julianday(self.alias.c.occurred_at if name == "occurred_at" else self[name])

    def shifted_time(self, delta: timedelta, name: str = "occurred_at") -> ColumnElement[Any]:
        """Return a time field (the event time by default) moved by delta."""
        if zoned(self.dialect):
            return self.time(name) + literal(delta)
        return self.time(name) + delta.total_seconds() / 86400


    def due(self, deadline: Deadline) -> ColumnElement[Any]:
        """Return when an obligation created by this event falls due, like Fields.time()."""
        if deadline.at is None:
            return self.shifted_time(deadline.after)
        zone, days = self.license.timezone, deadline.after.days
        if zoned(self.dialect):
            local_day = cast(func.timezone(zone, self.alias.c.occurred_at), Date) + days
            return func.timezone(zone, local_day + literal(deadline.at))
        return func.auditor_local_deadline(self.alias.c.occurred_at, zone, days,
                                           deadline.at.isoformat("minutes"))


def instant(value: datetime, dialect: str) -> ColumnElement[Any]:
    """Return a fixed instant comparable with Fields.time() in dialect."""
    if zoned(dialect):
        return literal(value, DateTime(timezone=True))
    return literal(value.timestamp() / 86400 + UNIX_EPOCH_JULIAN_DAY)


def condition(fields: Fields, spec: Condition) -> ColumnElement[bool]:
    """Compile one `field op value` condition; a missing field never satisfies it."""
    if spec.any:
        return or_(*(holds(condition(fields, c)) for c in spec.any))
    expr, op = fields[spec.field], spec.op
    value: Any = fields[spec.other] if spec.other else fields.value(spec.value, spec.field)
    if spec.shift is not None and spec.other:  # compare times: both as Fields.time() gives
        expr = fields.time(spec.field)
        value = fields.shifted_time(spec.shift, spec.other)
    if spec.tolerance is not None:
        apart = func.abs(expr - value)
        return apart <= spec.tolerance if op == "eq" else apart > spec.tolerance
    text = func.trim(cast(expr, String))
    compiled: dict[str, Any] = {
        "eq": lambda: expr == value, "ne": lambda: expr != value,
        "lt": lambda: expr < value, "le": lambda: expr <= value,
        "gt": lambda: expr > value, "ge": lambda: expr >= value,
        "in": lambda: expr.in_(value), "not_in": lambda: expr.not_in(value),
        "matches": lambda: expr.regexp_match(value),
        "not_matches": lambda: not_(expr.regexp_match(value)),
        "empty": lambda: or_(expr.is_(None), text == ""),
        "not_empty": lambda: text != "",  # NULL when missing: never satisfied
        "length_between": lambda: func.length(text).between(value[0], value[1]),
        "is_true": lambda: expr == True,  # noqa: E712 - SQL comparison, not Python
        "is_false": lambda: expr == False,  # noqa: E712
    }
    return compiled[op]()


def selects(alias: Any, fields: Fields, ref: EventRef, license_id: int) -> list[Any]:
    """Return the WHERE clauses that pick an event reference's events of the license."""
    clauses = [alias.c.license_id == license_id]
    clauses.append(alias.c.package_label.is_not(None) if ref.any_type
                   else alias.c.type.in_(ref.type))
    clauses += [condition(fields, c) for c in ref.where]
    if ref.where_any:
        clauses.append(or_(*(holds(condition(fields, c)) for c in ref.where_any)))
    if ref.first_per:
        first = events.alias("first")
        ff = Fields(first, fields.dialect, fields.license)
        clauses.append(alias.c.id == select(first.c.id).where(
            first.c.license_id == license_id, first.c.type == alias.c.type,
            ff[ref.first_per] == fields[ref.first_per])
            .order_by(first.c.occurred_at, first.c.id).limit(1).correlate(alias)
            .scalar_subquery())
    if ref.only_known_packages:
        known = events.alias("known")
        clauses.append(exists().where(
            known.c.license_id == license_id, known.c.package_label == alias.c.package_label,
            known.c.type.in_(KNOWN_PACKAGE_TYPES)))
    return clauses


def holds(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return a clause that is false, never NULL, where the condition does not hold."""
    return func.coalesce(clause, false())
