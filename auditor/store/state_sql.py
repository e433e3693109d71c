"""Compile the state_at_time template to SQL: each event judged by its package's state.

The state is, field by field, the latest evidence of the package at or before the
event (`package_states`); the verdicts on the state alone are worked out once per
state row, and each event reads its row through one sort of narrow rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    select,
    true,
    union_all,
)

from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.rules.language import message_fields, reads_only_state, state_fields
from auditor.store.compiled_sql import FOUND, UNDETERMINED, Compiled
from auditor.store.package_states import (
    StateColumns,
    StateFields,
    evidence_states,
    is_evidence,
)
from auditor.store.schema import events
from auditor.store.sql_fields import Fields, condition, holds, selects


def state_at_time(rule: Rule, license_id: int, license: License, dialect: str,
                  cutoff: datetime,
                  scope: Callable[[Any], ColumnElement[bool]] | None = None) -> Compiled:
    """Select events whose package, as known at that moment, breaks a `require`.

    The state is, field by field, the latest evidence of the package at or before the
    event (`package_states`). Conditions on the state alone are judged once per
    evidence event (a CTE), not once per event reading it. Events of packages with no
    evidence at all are not judged: they are selected as undetermined. With `scope`
    (the worker's re-judge), only the evidence of the packages of the events it admits
    is read: a package's state depends on its own evidence alone.
    """
    params = rule.params
    types = params.state_from
    on_state = [c for c in params.require if reads_only_state(c)]
    on_both = [c for c in params.require if not reads_only_state(c)]
    packages = None
    if scope is not None:
        t = events.alias("t")
        packages = select(t.c.package_label).where(
            t.c.license_id == license_id, scope(t.c),
            t.c.package_label.is_not(None) if params.event.any_type
            else t.c.type.in_(params.event.type))
    states = evidence_states(types, state_fields(params.require), license_id, dialect, license,
                             packages)
    verdicts = _verdicts(states, StateFields(states, types, dialect, license), on_state,
                         sorted(state_fields(params.require)), dialect, license)
    e = events.alias("e")
    picked = [*selects(e, Fields(e, dialect, license), params.event, license_id),
              *(() if scope is None else (scope(e.c),))]
    # An event reads its package's latest state row at or before it. In the package's
    # rows in time order (a state row before an event of the same instant), the state
    # rows number the runs: one sort of narrow rows gives each event its run, and the
    # run's state row is then looked up by (package, run), the same on every database.
    rows = union_all(
        select(verdicts.c.package_label, verdicts.c.occurred_at, literal(0).label("kind"),
               verdicts.c.id),
        select(e.c.package_label, e.c.occurred_at, literal(1).label("kind"), e.c.id)
        .where(*picked)).subquery("merged")
    runs = select(rows.c.id, rows.c.package_label, rows.c.kind, func.count(
        case((rows.c.kind == 0, 1))).over(
        partition_by=rows.c.package_label,
        order_by=(rows.c.occurred_at, rows.c.kind, rows.c.id)).label("run")).subquery("runs")
    # LEFT: an event before any state row of its package (run 0) has no verdict.
    joined = runs.join(e, e.c.id == runs.c.id).outerjoin(verdicts, and_(
        verdicts.c.package_label == runs.c.package_label, verdicts.c.run == runs.c.run))
    fields = Fields(e, dialect, license, state=StateColumns(verdicts))
    required = and_(verdicts.c.ok == 1, *(condition(fields, c) for c in on_both))
    # "Has a verdict", written so that SQLite keeps the LEFT JOIN as written (a test of
    # NULL would make it an inner join, which the planner may reorder).
    judged = func.coalesce(verdicts.c.ok, -1) >= 0
    found = select(e, *failed_columns(rule, fields)).select_from(joined).where(
        runs.c.kind == 1, judged, not_(holds(required)))
    # Undetermined: no evidence of the package at or before the event (then its latest
    # state row, if any, has `known` 0): an index look-up per event, not the sort above.
    ev = events.alias("ev")
    evidence = exists().where(ev.c.license_id == license_id, ev.c.type.in_(types),
                              ev.c.package_label == e.c.package_label,
                              ev.c.occurred_at <= e.c.occurred_at,
                              is_evidence(Fields(ev, dialect, license), types))
    # The batch audit's one query: the findings and, where no evidence came before the
    # sale (no verdict: `required` does not hold either), the undetermined, from the
    # same sort instead of a second look-up per sale.
    outcome = case((judged, FOUND), else_=UNDETERMINED).label("outcome")
    together = select(e, *failed_columns(rule, fields), outcome).select_from(joined).where(
        runs.c.kind == 1, not_(holds(required)))
    return Compiled(found, undetermined=select(e).where(*picked, not_(evidence)),
                    together=together)


def _verdicts(states: Any, state: StateFields, on_state: Sequence[Any], names: Sequence[str],
              dialect: str, license: License) -> Any:
    """Return a CTE of the state rows with their run number (their place among the
    package's state rows), every state field read (v_X) and the verdict of the
    conditions on the state alone (`ok`: NULL while no evidence came, else 1 or 0),
    all worked out once per state row, not once per event reading it."""
    order = (states.c.occurred_at, states.c.id)
    valued = select(states.c.package_label, states.c.occurred_at, states.c.id, states.c.known,
                    func.row_number().over(partition_by=states.c.package_label, order_by=order)
                    .label("run"), *(state[x].label(f"v_{x}") for x in names)
                    ).where(states.c.package_label.is_not(None)) \
        .cte("valued").prefix_with("MATERIALIZED")
    meets = and_(true(), *(condition(Fields(valued, dialect, license,
                                            state=StateColumns(valued)), c) for c in on_state))
    verdict = case((valued.c.known > 0, case((meets, 1), else_=0)), else_=None)
    return select(valued, verdict.label("ok")).cte("verdicts").prefix_with("MATERIALIZED")


def failed_named(rule: Rule) -> bool:
    """Return whether a rule's message names which `require` conditions `failed`."""
    return "failed" in message_fields(rule.params.message)


def failed_columns(rule: Rule, fields: Fields) -> list[Any]:
    """Return, for a message naming `failed`, one column per `require` condition: 1 if
    it failed for the found event (worked out for the findings alone)."""
    if not failed_named(rule):
        return []
    return [case((holds(condition(fields, c)), 0), else_=1).label(f"derived_failed_{i}")
            for i, c in enumerate(rule.params.require)]
