"""The aggregate template in SQL: running totals per group that must stay within limits.

Every source event's amount towards each limit is worked out once, then one window pass
per limit keeps a running total per group; the events that take a total out of bounds
are the findings, each with the total and the lowest limit it passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select, true, union_all
from sqlalchemy.sql import Select

from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.rules.language import COLUMNS, DERIVED, EPSILON
from auditor.rules.params import AggregateParams, Limit, Source
from auditor.store.compiled_sql import Compiled
from auditor.store.package_states import latest_of
from auditor.store.schema import events
from auditor.store.sql_fields import Fields, condition


def aggregate(rule: Rule, license_id: int, license: License, dialect: str,
              cutoff: datetime) -> Compiled:
    """Select the events that take a running total per group out of its bounds.

    Every source event's amount towards each limit is worked out once (a CTE with one
    column per limit); then one window pass per limit keeps a running total per group,
    `from_start` sources first, then in event-time order.
    """
    params = rule.params
    parts = [_contributions(params, source, license_id, license, dialect)
             for source in params.sources]
    amounts = union_all(*parts).cte("contributions")
    return _crossing_events(amounts, params)


def aggregate_groups(rule: Rule, license_id: int, license: License, dialect: str,
                     scope: Callable[[Any], ColumnElement[bool]]) -> Select[Any]:
    """Select the distinct groups of the rule's source events that `scope` admits: the
    groups whose running totals a scoped re-judge needs (see `aggregate_keyed`)."""
    params = rule.params
    admitted = union_all(*(_contributions(params, source, license_id, license, dialect,
                                          lambda c, _fields: [scope(c.c)])
                           for source in params.sources)).subquery("admitted")
    return select(*(admitted.c[f"g{i}"] for i in range(len(params.group_by)))).distinct()


def aggregate_keyed(rule: Rule, license_id: int, license: License, dialect: str,
                    cutoff: datetime, groups: Sequence[Sequence[Any]]) -> Compiled:
    """Select like `aggregate`, reading only the source events of these groups.

    A group's running total depends on its own events alone, so the totals are exact for
    every group the narrowing keeps. The narrowing is per field and may keep more groups
    than asked (these customers on these days), never fewer: a column (the package tag)
    by an index look-up per value, `local_date` by the range of event times of those
    days and then its values, any other field by its values among the events left.
    The work is proportional to the groups, not to the license's history.
    """
    params = rule.params
    values = [sorted({group[i] for group in groups}, key=str)
              for i in range(len(params.group_by))]

    def narrow(c: Any, fields: Fields) -> list[ColumnElement[bool]]:
        clauses = []
        for name, kept in zip(params.group_by, values, strict=True):
            if name == "local_date":
                days = sorted(date.fromisoformat(str(day)) for day in kept)
                # A local day's events lie within a day of its UTC midnight, in any zone.
                clauses += [c.c.occurred_at >= datetime.combine(days[0], time(), UTC)
                            - timedelta(days=1),
                            c.c.occurred_at < datetime.combine(days[-1], time(), UTC)
                            + timedelta(days=2)]
            clauses.append((c.c[name] if name in COLUMNS else fields[name]).in_(kept))
        return clauses

    return _crossing_events(union_all(*(
        _contributions(params, source, license_id, license, dialect, narrow)
        for source in params.sources)).cte("contributions"), params)


def _crossing_events(amounts: Any, params: AggregateParams) -> Compiled:
    """Select the events that take a limit out of bounds, with the total and the lowest
    such limit beside each (the message names both)."""
    # Every limit's running total in one window pass (one sort of the source events):
    # SUM skips an amount that does not count towards a limit (NULL).
    groups = [amounts.c[f"g{i}"] for i in range(len(params.group_by))]
    order = (amounts.c.phase, amounts.c.occurred_at, amounts.c.id)
    running = select(amounts.c.id, amounts.c.type, *(
        column for index in range(len(params.limits))
        for column in (amounts.c[f"d{index}"].label(f"d{index}"),
                       func.sum(amounts.c[f"d{index}"]).over(partition_by=groups, order_by=order)
                       .label(f"t{index}")))).cte("running").prefix_with("MATERIALIZED")
    crossings = union_all(*(_crossing(running, params, index, limit)
                            for index, limit in enumerate(params.limits))).cte("crossings")
    e = events.alias("e")

    def first_crossing(column: Any) -> Any:  # the lowest limit an event takes out of bounds
        return (select(column).where(crossings.c.id == e.c.id).order_by(crossings.c.idx)
                .limit(1).scalar_subquery())

    return Compiled(select(e, first_crossing(crossings.c.total).label("derived_total"),
                           first_crossing(crossings.c.idx).label("derived_limit_index"))
                    .where(e.c.id.in_(select(crossings.c.id))))


def _contributions(params: AggregateParams, source: Source, license_id: int,
                   license: License, dialect: str,
                   narrow: Callable[[Any, Fields], list[Any]] | None = None) -> Select[Any]:
    """Select a source's events with their amount towards each limit (NULL: not counted);
    `narrow` adds conditions on the source events (alias c)."""
    c, s = events.alias("c"), events.alias("s")
    cf = Fields(c, dialect, license, state=Fields(s, dialect, license))
    measure = cf[source.measure] if source.add else -cf[source.measure]
    columns, reads_state = [], False
    for index, limit in enumerate(params.limits):
        whens = []
        for term in limit.terms:
            multiply_by = term.multiply_by or source.multiply_by
            amount = measure * func.coalesce(cf[multiply_by], 1) if multiply_by else measure
            reads_state = reads_state or bool(multiply_by and multiply_by.startswith("state."))
            counted = and_(true(), *(condition(cf, w) for w in limit.where + term.where))
            whens.append((counted, func.coalesce(amount / term.per, 0)))
        columns.append(case(*whens, else_=None).label(f"d{index}"))
    groups = [cf[name].label(f"g{i}") for i, name in enumerate(params.group_by)]
    query = select(c.c.id, c.c.type, c.c.occurred_at, *groups, *columns,
                   literal(0 if source.from_start else 1).label("phase"))
    if reads_state:
        latest = latest_of(c, ["package_snapshot"], license_id)
        query = query.select_from(c.outerjoin(s, s.c.id == latest))
    # A derived group field is never NULL for an event, and costly to work out twice.
    return query.where(c.c.license_id == license_id, c.c.type == source.type,
                       *(cf[name].is_not(None) for name in params.group_by
                         if name not in DERIVED),
                       *(condition(cf, w) for w in source.where),
                       *(narrow(c, cf) if narrow is not None else ()))


def _crossing(running: Any, params: AggregateParams, index: int, limit: Limit) -> Select[Any]:
    """Select the events whose amount takes limit number `index` out of its bounds."""
    delta, total = running.c[f"d{index}"], running.c[f"t{index}"]
    before = total - delta
    if limit.minimum is not None:
        bound = limit.minimum - EPSILON
        out = and_(total < bound, before >= bound)
    else:
        bound = (limit.maximum or 0.0) + EPSILON
        out = and_(total > bound, before <= bound)
    return select(running.c.id, literal(index).label("idx"), total.label("total")) \
        .where(running.c.type.in_(params.report), delta.is_not(None), out)
