"""The worker's re-judging queries: source watermarks, scoped batch verdicts, standing findings.

The continuous worker settles its findings by asking the batch compilers
(`rules_sql.judge_scoped`) about the triggers new events can affect (a `Scope`), and
by comparing their verdicts with the findings it has standing. Everything a scope
names stays in SQL (the tags and references of an id range are a subquery), so a
year's backlog is settled without reading its events into Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, event, false, func, or_, select, true

from auditor.domain.findings import Violation
from auditor.domain.license import License
from auditor.domain.rules import Rule
from auditor.services.worker_ports import Marks, Scope, Span, Standing
from auditor.store.rules_sql import judge_scoped
from auditor.store.schema import continuous_findings, events
from auditor.store.sql_store import refresh_statistics

STANDING = ("open", "remedied")
# SQLite's page cache per connection of the worker (the store's default is 64 MiB, for
# bulk index inserts). A settle streams its scans and looks rows up through indexes
# whose upper levels fit in a few MiB; pages beyond come back from the OS's file cache.
# The size also caps each sorter's in-memory run (SQLite spills a sort to a temporary
# file past it), and a whole-history query sorts in several at once (a state rule's
# window functions, the final order): at 8 MiB a year's state rule took 64 MB of
# SQLite's heap, 26 MB at 2 MiB, 15 MB at 1 MiB, so memory no longer follows the history.
WORKER_PAGE_CACHE_KIB = 1024
CHUNK = 500  # trigger ids per IN list when checking standing findings against a scope


def bound_page_cache(engine: Engine) -> None:
    """Hold SQLite's page cache of the engine's connections to WORKER_PAGE_CACHE_KIB (no-op
    elsewhere): set each time a connection is taken from the pool, pooled ones too."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "checkout", _bounded):
        event.listen(engine, "checkout", _bounded)


def _bounded(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    dbapi_connection.execute(f"PRAGMA cache_size=-{WORKER_PAGE_CACHE_KIB}")


class SettleQueries:
    """The re-judging half of the worker's store (mixed into ContinuousStore)."""

    engine: Engine

    def refresh_statistics(self) -> None:
        """Give the planner statistics of the events table once (the batch audit's plans
        depend on them: without, a state rule reads every event of a package per sale)."""
        refresh_statistics(self.engine)

    def last_event_id(self, license_ids: Sequence[int]) -> int:
        """Return the highest event id of the licenses (0 when they have none)."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(events.c.id)).where(
                events.c.license_id.in_(list(license_ids)))) or 0)

    def marks(self, license_id: int, after: int, upto: int) -> Marks:
        """Return, per event type, the span of the events with ids in (after, upto]."""
        query = (select(events.c.type, func.count(), func.min(events.c.occurred_at),
                        func.max(events.c.occurred_at))
                 .where(events.c.license_id == license_id, events.c.id > after,
                        events.c.id <= upto).group_by(events.c.type))
        with self.engine.connect() as conn:
            return {row[0]: Span(row[1], row[2], row[3]) for row in conn.execute(query)}

    def judge(self, license_id: int, license: License, rule: Rule, cutoff: datetime,
              scope: Scope) -> tuple[list[Violation], set[int]]:
        """Judge the rule's triggers in scope as of cutoff with the batch compilers."""
        return judge_scoped(self.engine, rule, license_id, license, cutoff,
                            scope_parts(license_id, scope))

    def standing(self, license_id: int, rule_id: str, scope: Scope) -> dict[str, Standing]:
        """Return the rule's standing findings whose trigger is in scope: identity ->
        its triggering event id and status."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(continuous_findings.c.identity,
                                       continuous_findings.c.evidence,
                                       continuous_findings.c.status).where(
                continuous_findings.c.license_id == license_id,
                continuous_findings.c.rule_id == rule_id,
                continuous_findings.c.status.in_(STANDING))).all()
            held = {row.identity: Standing(int(row.evidence[0]), row.status)
                    for row in rows if row.evidence}
            if scope.whole or not held:
                return held
            ids = sorted({h.trigger for h in held.values()})
            admitted: set[int] = set()
            for i in range(0, len(ids), CHUNK):
                e = events.alias("e")
                admitted.update(conn.scalars(select(e.c.id).where(
                    e.c.id.in_(ids[i:i + CHUNK]), in_scope(e.c, license_id, scope))))
        return {identity: h for identity, h in held.items() if h.trigger in admitted}


def scope_parts(license_id: int, scope: Scope) -> list[Callable[[Any], ColumnElement[bool]]]:
    """Return the scope as separate conditions on a trigger, each one query's worth."""
    if scope.whole:
        return [lambda trigger: trigger.id.is_not(None)]
    new = events.alias("new")
    arrived = [new.c.license_id == license_id, new.c.id > scope.after, new.c.id <= scope.upto]
    parts: list[Callable[[Any], ColumnElement[bool]]] = []
    if scope.since is not None:
        since = scope.since
        parts.append(lambda trigger: trigger.occurred_at >= since)
    if scope.upto > scope.after:
        for key in scope.keys:
            parts.append(_sharing(new, arrived, scope, key))
    if scope.triggers:
        chosen = sorted(scope.triggers)
        parts.append(lambda trigger: trigger.id.in_(chosen))
    return parts


def in_scope(trigger: Any, license_id: int, scope: Scope) -> ColumnElement[bool]:
    """Return the condition that admits a trigger (columns of an events row) to the scope."""
    if scope.whole:
        return trigger.id.is_not(None)
    new = events.alias("new")
    arrived = [new.c.license_id == license_id, new.c.id > scope.after, new.c.id <= scope.upto]
    keys = [_sharing(new, arrived, scope, key)(trigger) for key in scope.keys]
    return or_(
        trigger.id.in_(sorted(scope.triggers)) if scope.triggers else false(),
        trigger.occurred_at >= scope.since if scope.since is not None else false(), *keys)


def _sharing(new: Any, arrived: list[Any], scope: Scope,
             key: str) -> Callable[[Any], ColumnElement[bool]]:
    """Return the condition that admits a trigger sharing `key` (a column: package tag,
    reference) with a new event, from `keys_from` on."""
    shared = select(new.c[key]).where(*arrived, new.c[key].is_not(None))
    return lambda trigger: and_(_from(trigger, scope), trigger[key].in_(shared))


def _from(trigger: Any, scope: Scope) -> ColumnElement[bool]:
    """Return the condition on a trigger's time that a shared key asks (`keys_from`)."""
    return true() if scope.keys_from is None else trigger.occurred_at >= scope.keys_from
