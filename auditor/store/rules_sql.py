"""Compile rule templates to SQL (SQLAlchemy Core) and run them over a license's events.

Each template becomes one SELECT of the events that violate the rule (and, for
deadline rules, one of the obligations still pending at the cutoff). Field access
and conditions live in sql_fields, so every template reads data the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, exists, func, not_, or_, select
from sqlalchemy.sql import Select

from auditor.domain.findings import Evaluation, Unjudged, Violation
from auditor.domain.license import License
from auditor.domain.rules import Rule, Template
from auditor.rules.language import (
    COUNTERPART_PREFIX,
    DERIVED,
    finding_fact,
    message_fields,
    shape_violation,
)
from auditor.rules.params import Compare
from auditor.store.aggregate_sql import aggregate, aggregate_groups, aggregate_keyed
from auditor.store.compiled_sql import FOUND, PENDING, UNDETERMINED, Compiled
from auditor.store.correction_sql import corrected_fields, correction_columns
from auditor.store.coverage_sql import full_count_interval
from auditor.store.engine import UNIX_EPOCH_JULIAN_DAY
from auditor.store.schema import events
from auditor.store.sql_fields import Fields, condition, holds, instant, selects
from auditor.store.state_sql import state_at_time


def field_check(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events of the rule's type that fail any `require` condition."""
    e = events.alias("e")
    fields = Fields(e, dialect, license)
    required = and_(*(condition(fields, c) for c in rule.params.require))
    return Compiled(select(e).where(*selects(e, fields, rule.params.event, license_id),
                                    not_(holds(required))))


def requires_prior(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select events with no counterpart (before them, or ever) whose match fields agree."""
    params = rule.params
    e, p = events.alias("e"), events.alias("p")
    ef, pf = Fields(e, dialect, license), Fields(p, dialect, license)
    chosen: Any = e
    counterpart = selects(p, pf, params.prior, license_id)
    if params.in_force_by:
        # The version in force is worked out once per event, as a column of the events
        # chosen: nested in the EXISTS below, DuckDB ran it again per candidate (minutes).
        in_force = _version_in_force(params.prior.type, params.in_force_by, e, license_id,
                                     license, dialect)
        chosen = select(e, in_force.label("in_force")).where(
            *selects(e, ef, params.event, license_id)).subquery("chosen")
        ef = Fields(chosen, dialect, license)
        counterpart.append(pf[params.in_force_by] == chosen.c.in_force)
    counterpart += [pf[m.prior] == ef[m.event] for m in params.match]
    if not params.ever:
        counterpart.append(pf.time() <= ef.time())
        if params.within is not None:
            counterpart.append(pf.time() >= ef.shifted_time(-params.within))
    unmatched = not_(exists().where(*counterpart))
    if chosen is e:
        return Compiled(select(e).where(*selects(e, ef, params.event, license_id), unmatched))
    return Compiled(select(*(chosen.c[column.name] for column in events.c)).where(unmatched))


def _version_in_force(types: Sequence[str], version_field: str, event: Any, license_id: int,
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
    deadline = ef.due(params.deadline)
    end = instant(cutoff, dialect)

    def follow_ups(extra: Sequence[Any]) -> tuple[Any, list[Any]]:
        f = events.alias("f")
        ff = Fields(f, dialect, license)
        when = ff.time(params.follow_up_time)
        later = [when > ef.time()] if params.strictly_after else []
        return when, [*selects(f, ff, params.follow_up, license_id),
                      *(ff[m.follow_up] == ef[m.event] for m in params.match),
                      *(condition(ff, c) for c in extra), *later, when <= end]

    def followed(extra: Sequence[Any]) -> ColumnElement[bool]:
        when, clauses = follow_ups(extra)
        return exists().where(*clauses, when <= deadline)

    def first_follow_up(index: int, extra: Sequence[Any]) -> Any:
        # A late rule's finding says when the follow-up came after all (late, not missing).
        when, clauses = follow_ups(extra)
        return select(func.min(when)).where(*clauses).scalar_subquery() \
            .label(f"derived_follow_up_{index}")

    met = and_(*(followed(group) for group in params.groups))
    late = [first_follow_up(i, group) for i, group in enumerate(params.groups)] \
        if params.late_message else []
    unmet = select(e, *late).where(*selects(e, ef, params.event, license_id), not_(met))
    return Compiled(unmet.where(deadline <= end), unmet.where(deadline > end))


def reconcile(rule: Rule, license_id: int, license: License, dialect: str,
                cutoff: datetime) -> Compiled:
    """Select left events that a right event records too (equal `match`) but differently."""
    params = rule.params
    left, right = events.alias("l"), events.alias("r")
    lf, rf = Fields(left, dialect, license), Fields(right, dialect, license)

    def agrees(spec: Compare) -> ColumnElement[bool]:
        a, b = lf[spec.left], rf[spec.right]
        close = (func.abs(a - b) <= spec.tolerance) if spec.tolerance is not None else a == b
        return holds(close)

    differing = [*selects(right, rf, params.right, license_id),
                 *(rf[m.right] == lf[m.left] for m in params.match),
                 or_(*(not_(agrees(c)) for c in params.compare))]
    # What the counterpart recorded, for a message naming right_X (the first differing).
    recorded = [select(rf[name.removeprefix(COUNTERPART_PREFIX)]).where(*differing)
                .order_by(right.c.id).limit(1).scalar_subquery().label(f"derived_{name}")
                for name in sorted(message_fields(params.message))
                if name.startswith(COUNTERPART_PREFIX)]
    return Compiled(select(left, *recorded).where(*selects(left, lf, params.left, license_id),
                                                  exists().where(*differing)))


COMPILERS = {Template.FIELD_CHECK: field_check, Template.REQUIRES_PRIOR: requires_prior,
             Template.REQUIRES_WITHIN: requires_within, Template.RECONCILE: reconcile,
             Template.STATE_AT_TIME: state_at_time, Template.AGGREGATE: aggregate,
             Template.FULL_COUNT_INTERVAL: full_count_interval}


def evaluate(engine: Engine, rule: Rule, license_id: int, license: License, start: datetime,
             end: datetime) -> Evaluation:
    """Evaluate a rule over a license's events that occurred in [start, end), as of end."""
    dialect = engine.dialect.name
    compiled = COMPILERS[rule.template](rule, license_id, license, dialect, end)
    if compiled.together is not None:
        return _evaluate_together(engine, compiled.together, rule, license, start, end)
    found = _in_period(compiled.found, start, end).subquery("found")
    with engine.connect() as conn:
        rows: Sequence[Any] = conn.execute(
            _with_derived(found, rule, dialect, license, end)
            .order_by(found.c.occurred_at, found.c.id)).all()
        pending = 0 if compiled.pending is None else conn.scalar(select(func.count())
            .select_from(_in_period(compiled.pending, start, end).subquery()))
        unjudged = [] if compiled.undetermined is None else conn.execute(
            _in_period(compiled.undetermined, start, end).order_by(
                compiled.undetermined.selected_columns.occurred_at,
                compiled.undetermined.selected_columns.id)).all()
    zone = license.zone()
    return Evaluation([_violation(rule, row, zone) for row in rows], pending or 0,
                      tuple(_unjudged(row) for row in unjudged))


def _evaluate_together(engine: Engine, together: Select[Any], rule: Rule, license: License,
                       start: datetime, end: datetime) -> Evaluation:
    """Evaluate with a template's one query of found, pending and undetermined events
    (`Compiled.together`), each row telling which it is by its `outcome`."""
    judged = _in_period(together, start, end).subquery("found")
    with engine.connect() as conn:
        rows = conn.execute(_with_derived(judged, rule, engine.dialect.name, license, end)
                            .order_by(judged.c.occurred_at, judged.c.id)).all()
    zone = license.zone()
    return Evaluation([_violation(rule, row, zone) for row in rows if row.outcome == FOUND],
                      sum(1 for row in rows if row.outcome == PENDING),
                      tuple(_unjudged(row) for row in rows if row.outcome == UNDETERMINED))


def _unjudged(row: Any) -> Unjudged:
    return Unjudged(row.id, row.type, row.occurred_at, row.package_label, row.reference)


def _with_derived(found: Any, rule: Rule, dialect: str, license: License,
                  cutoff: datetime) -> Select[Any]:
    """Select the found events with the derived fields their message names (on_hand...)
    and their corrective event up to cutoff, worked out for the findings alone."""
    names = sorted(message_fields(rule.params.message) & DERIVED.keys() - {"local_date"})
    fields = Fields(found, dialect, license)
    return select(found, *(fields[name].label(f"derived_{name}") for name in names),
                  *correction_columns(found, rule, dialect, license, cutoff))


def _violation(rule: Rule, row: Any, zone: Any) -> Violation:
    """Return the violation a found row stands for, explained, with what remedied it."""
    found = shape_violation(rule, row.id, row.type, row.occurred_at, row.package_label,
                            row.reference, _payload(row.payload), zone, _derived(rule, row))
    return replace(found, fields={**found.fields, **corrected_fields(row)})


def _derived(rule: Rule, row: Any) -> Callable[[str], Any]:
    """Return the derived fields and facts selected beside a found event, by name."""
    def column(name: str) -> Any:
        value = row._mapping.get(f"derived_{name}")
        if name.startswith("follow_up_") and isinstance(value, float):  # SQLite: Julian day
            return datetime.fromtimestamp(
                round((value - UNIX_EPOCH_JULIAN_DAY) * 86400), UTC)
        return value

    return lambda name: finding_fact(rule, name, column)


def _in_period(query: Select[Any], start: datetime, end: datetime) -> Select[Any]:
    trigger = query.selected_columns
    return query.where(trigger.occurred_at >= start, trigger.occurred_at < end)


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def judge_scoped(engine: Engine, rule: Rule, license_id: int, license: License,
                 cutoff: datetime, parts: Sequence[Callable[[Any], ColumnElement[bool]]],
                 ) -> tuple[list[Violation], set[int]]:
    """Judge a rule's triggers that any of `parts` admits, as of cutoff, with the batch
    compilers.

    Returns the violations and the ids of triggers still pending (a deadline after the
    cutoff). Unlike `evaluate`, the triggers are not cut to a period: the continuous
    worker re-judges the triggers its new events can affect, wherever they lie in time.
    Each part is its own query (a time range, a set of tags...), so each keeps the plan
    its index gives; an OR of them would scan the license's events.
    """
    dialect = engine.dialect.name
    rows: dict[int, Any] = {}
    pending: set[int] = set()
    with engine.connect() as conn:
        for part in parts:
            compiled = _scoped(conn, rule, license_id, license, dialect, cutoff, part)
            if compiled is None:
                continue
            if compiled.together is not None:  # the common work once (a count's coverage)
                judged = compiled.together.where(part(compiled.together.selected_columns))
                for row in conn.execute(_with_derived(judged.subquery("found"), rule, dialect,
                                                      license, cutoff)):
                    if row.outcome == FOUND:
                        rows[row.id] = row
                    elif row.outcome == PENDING:
                        pending.add(row.id)
                continue
            found = compiled.found.where(part(compiled.found.selected_columns)).subquery("found")
            for row in conn.execute(_with_derived(found, rule, dialect, license, cutoff)):
                rows[row.id] = row
            waiting = compiled.pending
            if waiting is not None:
                pending.update(conn.scalars(waiting.where(part(waiting.selected_columns))
                                            .with_only_columns(waiting.selected_columns.id)))
    zone = license.zone()
    return [_violation(rule, row, zone)
            for row in sorted(rows.values(), key=lambda r: (r.occurred_at, r.id))], pending


# More groups than this in one scope: the whole history is cheaper, and bounded. A keyed
# query holds its groups in Python and as bound values of its statement, which SQLite
# keeps prepared: a year's first catch-up (10,000 tags) grew the worker by 30 MB that
# way, the plain aggregate by 4 MB, in less time. A day's file touches a few hundred.
KEYED_GROUPS = 2_000


def _scoped(conn: Any, rule: Rule, license_id: int, license: License, dialect: str,
            cutoff: datetime, part: Callable[[Any], ColumnElement[bool]]) -> Compiled | None:
    """Return a rule's queries reading only what the triggers `part` admits depend on
    (None: no trigger to judge), so a small scope costs little however long the history.

    An aggregate's groups are looked up first and its running totals kept for them; a
    state rule's evidence is read for the packages of the triggers alone. Other
    templates are narrowed by `part` on the trigger, whose look-ups are indexed.
    """
    if rule.template is Template.AGGREGATE:
        groups = conn.execute(aggregate_groups(rule, license_id, license, dialect, part)
                              .limit(KEYED_GROUPS + 1)).all()  # no more held in memory
        if not groups:
            return None
        if len(groups) <= KEYED_GROUPS:
            return aggregate_keyed(rule, license_id, license, dialect, cutoff, groups)
    if rule.template is Template.STATE_AT_TIME:
        return state_at_time(rule, license_id, license, dialect, cutoff, part)
    return COMPILERS[rule.template](rule, license_id, license, dialect, cutoff)
