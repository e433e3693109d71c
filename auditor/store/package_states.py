"""A package's state at an instant in SQL, field by field, from all the evidence.

Each evidence event (`rules.language.STATE_EVIDENCE`: an accepted manifest line, a
METRC location change, a package snapshot, a physical move) gives some state fields.
The state after an event of those types holds, per field, the value of the latest
evidence at or before it that gives that field. `evidence_states` works that out once
per event (a materialized CTE of source ids per field: a running count of the events
giving a field numbers its runs, and the run's first event is its source), so an event
reading the state joins its package's latest event of those types (an index-only
look-up) and reads from there. An event of those types that is no evidence (a manifest
line METRC did not accept) gives no field: the state before it carries on; `known` is 0
while no evidence at all has come.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select

from auditor.domain.license import License
from auditor.rules.language import RECEIVING, STATE_EVIDENCE, receiving_location
from auditor.store.schema import events
from auditor.store.sql_fields import Fields


def is_evidence(fields: Fields, types: Sequence[str]) -> ColumnElement[bool]:
    """Return a clause picking the evidence events of these types (e.g. accepted lines)."""
    clauses = []
    for kind in types:
        clause = fields.alias.c.type == kind
        only_if = STATE_EVIDENCE[kind].only_if
        if only_if is not None:
            clause = and_(clause, fields[only_if[0]] == only_if[1])
        clauses.append(clause)
    return or_(*clauses)


def latest_of(event: Any, types: Sequence[str], license_id: int) -> ColumnElement[Any]:
    """Return the id of the package's latest event of `types` at or before the event."""
    latest = events.alias("latest")
    return (select(latest.c.id).where(
        latest.c.license_id == license_id, latest.c.type.in_(types),
        latest.c.package_label == event.c.package_label,
        latest.c.occurred_at <= event.c.occurred_at)
        .order_by(latest.c.occurred_at.desc(), latest.c.id.desc()).limit(1)
        .correlate(event).scalar_subquery())


def evidence_states(types: Sequence[str], names: Iterable[str], license_id: int,
                    dialect: str, license: License, packages: Any = None) -> Any:
    """Return a CTE: per event of `types`, whether any evidence came yet (`known`) and the
    id of the event giving each state field (`src_X`); only of the `packages` (a select
    of tags) if given."""
    names = sorted(names)
    s = events.alias("s")
    evidence = is_evidence(Fields(s, dialect, license), types)
    marks = [case((and_(evidence, s.c.type.in_(_giving(types, name))), s.c.id),
                  else_=None).label(f"k_{name}") for name in names]
    rows = (select(s.c.id, s.c.package_label, s.c.occurred_at,
                   case((evidence, 1), else_=None).label("is_evidence"), *marks)
            .where(s.c.license_id == license_id, s.c.type.in_(types),
                   *(() if packages is None else (s.c.package_label.in_(packages),)))
            .subquery("evidence"))
    order = (rows.c.occurred_at, rows.c.id)
    runs = select(rows, func.count(rows.c.is_evidence).over(
        partition_by=rows.c.package_label, order_by=order).label("known"),
        *(func.count(rows.c[f"k_{name}"]).over(
            partition_by=rows.c.package_label, order_by=order).label(f"g_{name}")
          for name in names)).subquery("runs")
    return select(runs.c.id, runs.c.package_label, runs.c.occurred_at, runs.c.known,
                  *(func.max(runs.c[f"k_{name}"]).over(
                      partition_by=(runs.c.package_label, runs.c[f"g_{name}"]))
                    .label(f"src_{name}") for name in names)
                  ).cte("states").prefix_with("MATERIALIZED")


def _giving(types: Sequence[str], name: str) -> list[str]:
    return [kind for kind in types if STATE_EVIDENCE[kind].source(name) is not None]


class StateFields:
    """Reads `state.X` of a row of `evidence_states`: field X of the event that gave it."""

    def __init__(self, states: Any, types: Sequence[str], dialect: str,
                 license: License) -> None:
        self.states, self.types, self.dialect, self.license = states, types, dialect, license

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        source = events.alias(f"src_{name}")
        fields = Fields(source, self.dialect, self.license)
        whens = []
        for kind in _giving(self.types, name):
            field = STATE_EVIDENCE[kind].source(name)
            value = literal(receiving_location(self.license)) if field == RECEIVING \
                else fields[field or name]
            whens.append((source.c.type == kind, value))
        value_of = case(*whens, else_=None) if whens else literal(None)
        return (select(value_of).where(source.c.id == self.states.c[f"src_{name}"])
                .correlate(self.states).scalar_subquery())


class StateColumns:
    """Reads `state.X` from column v_X of a query that worked the state fields out."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        return self.table.c[f"v_{name}"]
