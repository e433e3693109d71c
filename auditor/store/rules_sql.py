"""Compile rule templates to SQL (SQLAlchemy Core) and run them over a license's events.

The same rule runs on SQLite and PostgreSQL: payload fields are read with each
dialect's JSON operator and cast by their kind, and time windows are computed in the
database. A rule becomes one SELECT of the events that violate it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Engine,
    Float,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import Select

from auditor.domain.findings import Evaluation, Violation
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template, parse_duration
from auditor.store.schema import events

COLUMNS = {"package_label", "reference", "occurred_at"}
NUMBERS = {"quantity", "counted_quantity", "shipped_quantity", "received_quantity",
           "unit_price", "total_price", "unit_weight", "unit_thc_content", "package_count",
           "received_package_count", "line_count", "metrc_id", "line_index"}
DATES = {"expiration_date", "sell_by_date", "use_by_date", "packaged_date", "finished_date",
         "archived_date", "move_date", "actual_date"}
KNOWN_PACKAGE_TYPES = ("manifest_package", "package_snapshot")
UNIX_EPOCH_JULIAN_DAY = 2440587.5


class Fields:
    """Reads an event alias's fields in one dialect, typed by what the field holds.

    `state.X` reads field X of the state alias (state_at_time); `local_date` is the
    event's calendar date in the license's zone; "@license.NAME" values come from the
    license being audited.
    """

    def __init__(self, alias: Any, dialect: str, license: License,
                 state: Fields | None = None) -> None:
        self.alias, self.dialect, self.license, self.state = alias, dialect, license, state

    def value(self, raw: Any) -> Any:
        """Return a condition's value, reading "@license.NAME" from the audited license."""
        if isinstance(raw, str) and raw.startswith("@license."):
            found = getattr(self.license, raw.removeprefix("@license."))
            return list(found) if isinstance(found, tuple) else found
        return raw

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        if name.startswith("state.") and self.state is not None:
            return self.state[name.removeprefix("state.")]
        if name == "local_date":
            return self._local_date()
        if name == "on_hand":
            return self._on_hand()
        if name in COLUMNS:
            return self.alias.c[name]
        boolean = name.startswith(("is_", "requires_")) or name == "voided"
        if self.dialect == "postgresql":
            text = self.alias.c.payload.op("->>", return_type=String)(literal(name, String))
            if name in NUMBERS:
                return cast(text, Float)
            if name in DATES:
                return cast(text, Date)
            return cast(text, Boolean) if boolean else text
        return func.json_extract(self.alias.c.payload, f"$.{name}")

    def _on_hand(self) -> ColumnElement[Any]:
        """Return METRC's quantity of the package at the event's time.

        Accepted quantity, plus adjustments, less METRC sales, up to and at the event.
        """
        def total(kind: str, field: str, where: list[Any]) -> ColumnElement[Any]:
            other = events.alias(f"{kind}_sum")
            of = Fields(other, self.dialect, self.license)
            return func.coalesce(select(func.sum(of[field])).where(
                other.c.license_id == self.alias.c.license_id, other.c.type == kind,
                other.c.package_label == self.alias.c.package_label,
                other.c.occurred_at <= self.alias.c.occurred_at,
                *(condition(of, c) for c in where)).correlate(self.alias).scalar_subquery(), 0)

        accepted = [{"field": "shipment_state", "op": "eq", "value": "Accepted"}]
        return (total("manifest_package", "received_quantity", accepted)
                + total("adjustment", "quantity", []) - total("metrc_sale_line", "quantity", []))

    def _local_date(self) -> ColumnElement[Any]:
        zone = self.license.timezone
        if self.dialect == "postgresql":
            return cast(func.timezone(zone, self.alias.c.occurred_at), Date)
        return func.auditor_local_date(self.alias.c.occurred_at, zone)  # see store.engine

    def time(self, name: str = "occurred_at") -> ColumnElement[Any]:
        """Return a time field (the event time by default) comparable across formats."""
        if self.dialect == "postgresql":
            if name == "occurred_at":
                return self.alias.c.occurred_at
            return cast(self[name], DateTime(timezone=True))
        return func.julianday(self.alias.c.occurred_at if name == "occurred_at" else self[name])

    def shifted_time(self, delta: timedelta, name: str = "occurred_at") -> ColumnElement[Any]:
        """Return a time field (the event time by default) moved by delta."""
        if self.dialect == "postgresql":
            return self.time(name) + literal(delta)
        return self.time(name) + delta.total_seconds() / 86400


def instant(value: datetime, dialect: str) -> ColumnElement[Any]:
    """Return a fixed instant comparable with Fields.time() in dialect."""
    if dialect == "postgresql":
        return literal(value, DateTime(timezone=True))
    return literal(value.timestamp() / 86400 + UNIX_EPOCH_JULIAN_DAY)


def condition(fields: Fields, spec: dict[str, Any]) -> ColumnElement[bool]:
    """Compile one `field op value` condition; a missing field never satisfies it."""
    if "any" in spec:
        return or_(*(_holds(condition(fields, c)) for c in spec["any"]))
    expr, op = fields[spec["field"]], spec["op"]
    value: Any = fields[spec["other"]] if "other" in spec else fields.value(spec.get("value"))
    if "shift" in spec:  # compare times: both sides as Fields.time() gives them
        expr = fields.time(spec["field"])
        value = fields.shifted_time(parse_duration(spec["shift"]), spec["other"])
    if "tolerance" in spec:
        apart = func.abs(expr - value)
        return apart <= spec["tolerance"] if op == "eq" else apart > spec["tolerance"]
    text = func.trim(cast(expr, String))
    compiled: dict[str, Any] = {
        "eq": lambda: expr == value, "ne": lambda: expr != value,
        "lt": lambda: expr < value, "le": lambda: expr <= value,
        "gt": lambda: expr > value, "ge": lambda: expr >= value,
        "in": lambda: expr.in_(value), "not_in": lambda: expr.not_in(value),
        "matches": lambda: expr.regexp_match(value),
        "not_matches": lambda: not_(expr.regexp_match(value)),
        "empty": lambda: or_(expr.is_(None), text == ""),
        "not_empty": lambda: and_(expr.is_not(None), text != ""),
        "length_between": lambda: func.length(text).between(value[0], value[1]),
        "is_true": lambda: expr == True,  # noqa: E712 - SQL comparison, not Python
        "is_false": lambda: expr == False,  # noqa: E712
    }
    return compiled[op]()


def _selects(alias: Any, fields: Fields, ref: dict[str, Any], license_id: int) -> list[Any]:
    types = ref["type"]
    clauses = [alias.c.license_id == license_id]
    clauses.append(alias.c.package_label.is_not(None) if "*" in types
                   else alias.c.type.in_(types))
    clauses += [condition(fields, c) for c in ref["where"]]
    if ref["where_any"]:
        clauses.append(or_(*(_holds(condition(fields, c)) for c in ref["where_any"])))
    if ref["first_per"]:
        first = events.alias("first")
        ff = Fields(first, fields.dialect, fields.license)
        clauses.append(alias.c.id == select(first.c.id).where(
            first.c.license_id == license_id, first.c.type == alias.c.type,
            ff[ref["first_per"]] == fields[ref["first_per"]])
            .order_by(first.c.occurred_at, first.c.id).limit(1).correlate(alias)
            .scalar_subquery())
    if ref["only_known_packages"]:
        known = events.alias("known")
        clauses.append(exists().where(
            known.c.license_id == license_id, known.c.package_label == alias.c.package_label,
            known.c.type.in_(KNOWN_PACKAGE_TYPES)))
    return clauses


def _holds(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return a clause that is false, never NULL, where the condition does not hold."""
    return func.coalesce(clause, false())


Compiled = tuple[Select[Any], Select[Any] | None]  # (violations, pending obligations)


def field_check(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events of the rule's type that fail any `require` condition."""
    e = events.alias("e")
    fields = Fields(e, dialect, license)
    required = and_(*(condition(fields, c) for c in rule.params["require"]))
    return select(e).where(*_selects(e, fields, rule.params["event"], license_id),
                           not_(_holds(required))), None


def requires_prior(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events with no counterpart (before them, or ever) whose match fields agree."""
    params = rule.params
    e, p = events.alias("e"), events.alias("p")
    ef, pf = Fields(e, dialect, license), Fields(p, dialect, license)
    counterpart = _selects(p, pf, params["prior"], license_id)
    counterpart += [pf[m["prior"]] == ef[m["event"]] for m in params["match"]]
    if params["in_force_by"]:
        counterpart.append(pf[params["in_force_by"]] == _version_in_force(
            params["prior"]["type"], params["in_force_by"], e, license_id, license, dialect))
    if params["when"] == "before":
        counterpart.append(pf.time() <= ef.time())
        if params["within"]:
            counterpart.append(pf.time() >= ef.shifted_time(-parse_duration(params["within"])))
    return select(e).where(*_selects(e, ef, params["event"], license_id),
                           not_(exists().where(*counterpart))), None


def _version_in_force(types: list[str], version_field: str, event: Any, license_id: int,
                      license: License, dialect: str) -> ColumnElement[Any]:
    """Return the version (field value) in force at the event: the latest at or before it,
    or the earliest of all when none is yet (a list imported after the activity it covers)."""
    def pick(before: bool, newest: bool) -> Any:
        v = events.alias("version")
        vf = Fields(v, dialect, license)
        order = (v.c.occurred_at.desc(), v.c.id.desc()) if newest else (v.c.occurred_at, v.c.id)
        clauses = [v.c.license_id == license_id, v.c.type.in_(types)]
        if before:
            clauses.append(v.c.occurred_at <= event.c.occurred_at)
        return (select(vf[version_field]).where(*clauses).order_by(*order).limit(1)
                .correlate(event))

    return func.coalesce(pick(True, True).scalar_subquery(), pick(False, False).scalar_subquery())


def requires_within(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events whose follow-up did not come by the deadline, and those still pending.

    Judged in event time as of cutoff: a follow-up counts only if its time is at or
    before both the deadline and the cutoff; an event whose deadline falls after the
    cutoff is pending, not a violation. With `each_of`, every group of conditions needs
    a follow-up of its own (e.g. one notice to the regulator and one to the police).
    """
    params = rule.params
    e = events.alias("e")
    ef = Fields(e, dialect, license)
    deadline = ef.shifted_time(parse_duration(params["deadline"]))
    end = instant(cutoff, dialect)

    def followed(extra: list[dict[str, Any]]) -> ColumnElement[bool]:
        f = events.alias("f")
        ff = Fields(f, dialect, license)
        when = ff.time(params["follow_up_time"])
        later = [when > ef.time()] if params["strictly_after"] else []
        return exists().where(
            *_selects(f, ff, params["follow_up"], license_id),
            *(ff[m["follow_up"]] == ef[m["event"]] for m in params["match"]),
            *(condition(ff, c) for c in extra), *later, when <= deadline, when <= end)

    met = and_(*(followed(group) for group in params["each_of"] or [[]]))
    unmet = select(e).where(*_selects(e, ef, params["event"], license_id), not_(met))
    return unmet.where(deadline <= end), unmet.where(deadline > end)


def reconcile(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select left events that a right event records too (equal `match`) but differently."""
    params = rule.params
    left, right = events.alias("l"), events.alias("r")
    lf, rf = Fields(left, dialect, license), Fields(right, dialect, license)

    def agrees(spec: dict[str, Any]) -> ColumnElement[bool]:
        a, b = lf[spec["left"]], rf[spec["right"]]
        close = (func.abs(a - b) <= spec["tolerance"]) if spec["tolerance"] is not None \
            else a == b
        return _holds(close)

    differs = exists().where(
        *_selects(right, rf, params["right"], license_id),
        *(rf[m["right"]] == lf[m["left"]] for m in params["match"]),
        or_(*(not_(agrees(c)) for c in params["compare"])))
    return select(left).where(*_selects(left, lf, params["left"], license_id), differs), None


def state_at_time(rule: Rule, license_id: int, license: License, dialect: str,
                  cutoff: datetime) -> Compiled:
    """Select events whose package, as last known at that moment, breaks a `require`.

    The state is the latest `state_from` event of the same package at or before the
    event; events of packages with no state at all are left out.
    """
    params = rule.params
    e, s, latest = events.alias("e"), events.alias("s"), events.alias("latest")
    state_id = (select(latest.c.id)
                .where(latest.c.license_id == license_id,
                       latest.c.type.in_(params["state_from"]),
                       latest.c.package_label == e.c.package_label,
                       latest.c.occurred_at <= e.c.occurred_at)
                .order_by(latest.c.occurred_at.desc(), latest.c.id.desc())
                .limit(1).correlate(e).scalar_subquery())
    fields = Fields(e, dialect, license, state=Fields(s, dialect, license))
    required = and_(*(condition(fields, c) for c in params["require"]))
    query = (select(e).select_from(e.join(s, s.c.id == state_id))
             .where(*_selects(e, fields, params["event"], license_id), not_(_holds(required))))
    return query, None


def aggregate(rule: Rule, license_id: int, license: License, dialect: str,
              cutoff: datetime) -> Compiled:
    """Select the events that take a running total per group below the minimum.

    One pass with a window function: every source event contributes a signed amount,
    `from_start` sources first, then all in event-time order.
    """
    params = rule.params
    parts = []
    for source in params["sources"]:
        c = events.alias("c")
        cf = Fields(c, dialect, license)
        amount = cf[source["add"]] if "add" in source else -cf[source["subtract"]]
        parts.append(select(c.c.id, c.c.type, c.c[params["group_by"]].label("grp"),
                            c.c.occurred_at, func.coalesce(amount, 0).label("delta"),
                            literal(0 if source["from_start"] else 1).label("phase"))
                     .where(c.c.license_id == license_id, c.c.type == source["type"],
                            c.c[params["group_by"]].is_not(None),
                            *(condition(cf, w) for w in source["where"])))
    contributions = union_all(*parts).subquery("contributions")
    order = (contributions.c.phase, contributions.c.occurred_at, contributions.c.id)
    running = select(contributions.c.id, contributions.c.type, contributions.c.delta,
                     func.sum(contributions.c.delta).over(
                         partition_by=contributions.c.grp, order_by=order).label("total")
                     ).subquery("running")
    crossing = select(running.c.id).where(
        running.c.type.in_(params["report"]), running.c.total < params["minimum"],
        running.c.total - running.c.delta >= params["minimum"])
    e = events.alias("e")
    return select(e).where(e.c.id.in_(crossing)), None


COMPILERS = {Template.FIELD_CHECK: field_check, Template.REQUIRES_PRIOR: requires_prior,
             Template.REQUIRES_WITHIN: requires_within, Template.RECONCILE: reconcile,
             Template.STATE_AT_TIME: state_at_time, Template.AGGREGATE: aggregate}


def evaluate(engine: Engine, rule: Rule, license_id: int, license: License, start: datetime,
             end: datetime) -> Evaluation:
    """Evaluate a rule over a license's events that occurred in [start, end), as of end."""
    query, pending_query = COMPILERS[rule.template](rule, license_id, license,
                                                    engine.dialect.name, end)
    with engine.connect() as conn:
        rows: Sequence[Any] = conn.execute(_in_period(query, start, end).order_by(
            query.selected_columns.occurred_at, query.selected_columns.id)).all()
        pending = 0 if pending_query is None else conn.scalar(
            select(func.count()).select_from(_in_period(pending_query, start, end).subquery()))
    dated_by = rule.params.get("finding_time")
    shift = (parse_duration(rule.params["deadline"]) if rule.params.get("date_by_deadline")
             else timedelta(0))
    found = []
    for row in rows:
        payload = _payload(row.payload)
        when = (datetime.fromisoformat(payload[dated_by]) if dated_by else row.occurred_at) + shift
        label = None if rule.params.get("license_level") else row.package_label
        found.append(Violation(row.id, row.type, when, label, row.reference, payload))
    return Evaluation(found, pending or 0)


def _in_period(query: Select[Any], start: datetime, end: datetime) -> Select[Any]:
    trigger = query.selected_columns
    return query.where(trigger.occurred_at >= start, trigger.occurred_at < end)


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)
