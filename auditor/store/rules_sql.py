"""Compile rule templates to SQL (SQLAlchemy Core) and run them over a license's events.

Each template becomes one SELECT of the events that violate the rule (and, for
deadline rules, one of the obligations still pending at the cutoff). Field access
and conditions live in sql_fields, so every template reads data the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    exists,
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
from auditor.domain.rules import Rule, Template, parse_deadline, parse_duration
from auditor.store.schema import events
from auditor.store.sql_fields import Fields, condition, holds, instant, selects

Compiled = tuple[Select[Any], Select[Any] | None]  # (violations, pending obligations)


def field_check(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events of the rule's type that fail any `require` condition."""
    e = events.alias("e")
    fields = Fields(e, dialect, license)
    required = and_(*(condition(fields, c) for c in rule.params["require"]))
    return select(e).where(*selects(e, fields, rule.params["event"], license_id),
                           not_(holds(required))), None


def requires_prior(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events with no counterpart (before them, or ever) whose match fields agree."""
    params = rule.params
    e, p = events.alias("e"), events.alias("p")
    ef, pf = Fields(e, dialect, license), Fields(p, dialect, license)
    counterpart = selects(p, pf, params["prior"], license_id)
    counterpart += [pf[m["prior"]] == ef[m["event"]] for m in params["match"]]
    if params["in_force_by"]:
        counterpart.append(pf[params["in_force_by"]] == _version_in_force(
            params["prior"]["type"], params["in_force_by"], e, license_id, license, dialect))
    if params["when"] == "before":
        counterpart.append(pf.time() <= ef.time())
        if params["within"]:
            counterpart.append(pf.time() >= ef.shifted_time(-parse_duration(params["within"])))
    return select(e).where(*selects(e, ef, params["event"], license_id),
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
    deadline = ef.due(parse_deadline(params["deadline"]))
    end = instant(cutoff, dialect)

    def followed(extra: list[dict[str, Any]]) -> ColumnElement[bool]:
        f = events.alias("f")
        ff = Fields(f, dialect, license)
        when = ff.time(params["follow_up_time"])
        later = [when > ef.time()] if params["strictly_after"] else []
        return exists().where(
            *selects(f, ff, params["follow_up"], license_id),
            *(ff[m["follow_up"]] == ef[m["event"]] for m in params["match"]),
            *(condition(ff, c) for c in extra), *later, when <= deadline, when <= end)

    met = and_(*(followed(group) for group in params["each_of"] or [[]]))
    unmet = select(e).where(*selects(e, ef, params["event"], license_id), not_(met))
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
        return holds(close)

    differs = exists().where(
        *selects(right, rf, params["right"], license_id),
        *(rf[m["right"]] == lf[m["left"]] for m in params["match"]),
        or_(*(not_(agrees(c)) for c in params["compare"])))
    return select(left).where(*selects(left, lf, params["left"], license_id), differs), None


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
             .where(*selects(e, fields, params["event"], license_id), not_(holds(required))))
    return query, None


def aggregate(rule: Rule, license_id: int, license: License, dialect: str,
              cutoff: datetime) -> Compiled:
    """Select the events that take a running total per group out of its bounds.

    One pass per limit with a window function: every source event contributes a signed
    (optionally weighted) amount, `from_start` sources first, then in event-time order.
    """
    params = rule.params
    crossings = [_crossing(params, limit, license_id, license, dialect)
                 for limit in params["limits"]]
    e = events.alias("e")
    return select(e).where(e.c.id.in_(union_all(*crossings))), None


def _contribution(params: Mapping[str, Any], source: dict[str, Any], limit: dict[str, Any],
                  term: dict[str, Any], license_id: int, license: License,
                  dialect: str) -> Select[Any]:
    """Select each source event's signed amount towards one limit, as `term` counts it."""
    c, s = events.alias("c"), events.alias("s")
    cf = Fields(c, dialect, license, state=Fields(s, dialect, license))
    amount = cf[source["add"]] if "add" in source else -cf[source["subtract"]]
    multiply_by = term.get("multiply_by") or source.get("multiply_by")
    if multiply_by:
        amount = amount * func.coalesce(cf[multiply_by], 1)
    amount = amount / term["per"]
    groups = [cf[name].label(f"g{i}") for i, name in enumerate(params["group_by"])]
    query = select(c.c.id, c.c.type, c.c.occurred_at, *groups,
                   func.coalesce(amount, 0).label("delta"),
                   literal(0 if source["from_start"] else 1).label("phase"))
    if multiply_by and multiply_by.startswith("state."):
        latest = events.alias("latest")
        query = query.select_from(c.outerjoin(s, s.c.id == select(latest.c.id).where(
            latest.c.license_id == license_id, latest.c.type == "package_snapshot",
            latest.c.package_label == c.c.package_label,
            latest.c.occurred_at <= c.c.occurred_at)
            .order_by(latest.c.occurred_at.desc(), latest.c.id.desc()).limit(1)
            .correlate(c).scalar_subquery()))
    return query.where(c.c.license_id == license_id, c.c.type == source["type"],
                       *(cf[name].is_not(None) for name in params["group_by"]),
                       *(condition(cf, w) for w in source["where"] + limit["where"]
                         + term["where"]))


WHOLE = {"where": [], "per": 1}  # a limit without equivalents counts every amount as is
EPSILON = 1e-9  # equivalents are fractions: 8 g / 8 must not read as above 1


def _crossing(params: Mapping[str, Any], limit: dict[str, Any], license_id: int,
              license: License, dialect: str) -> Select[Any]:
    parts = [_contribution(params, source, limit, term, license_id, license, dialect)
             for source in params["sources"] for term in limit["equivalents"] or [WHOLE]]
    both = union_all(*parts).subquery("contributions")
    groups = [both.c[f"g{i}"] for i in range(len(params["group_by"]))]
    running = select(both.c.id, both.c.type, both.c.delta, func.sum(both.c.delta).over(
        partition_by=groups, order_by=(both.c.phase, both.c.occurred_at, both.c.id))
        .label("total")).subquery("running")
    before = running.c.total - running.c.delta
    if limit["minimum"] is not None:
        bound = limit["minimum"] - EPSILON
        out = and_(running.c.total < bound, before >= bound)
    else:
        bound = limit["maximum"] + EPSILON
        out = and_(running.c.total > bound, before <= bound)
    return select(running.c.id).where(running.c.type.in_(params["report"]), out)


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
    by_deadline = (parse_deadline(rule.params["deadline"])
                   if rule.params.get("date_by_deadline") else None)
    found = []
    for row in rows:
        payload = _payload(row.payload)
        when = datetime.fromisoformat(payload[dated_by]) if dated_by else row.occurred_at
        if by_deadline:
            when = by_deadline.due(when, license.zone())
        label = None if rule.params.get("license_level") else row.package_label
        subject = payload.get(rule.params["subject"]) if rule.params.get("subject") \
            else row.reference
        found.append(Violation(row.id, row.type, when, label, subject, payload))
    return Evaluation(found, pending or 0)


def _in_period(query: Select[Any], start: datetime, end: datetime) -> Select[Any]:
    trigger = query.selected_columns
    return query.where(trigger.occurred_at >= start, trigger.occurred_at < end)


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)
