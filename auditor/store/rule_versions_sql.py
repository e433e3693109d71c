"""Published rule versions on SQL: each edit a new row, old ones kept and readable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from auditor.domain.errors import Conflict
from auditor.domain.trail import Change
from auditor.services.api_ports import RuleVersion
from auditor.store.engine import WRITE
from auditor.store.schema import rule_versions
from auditor.store.trail_sql import record


class SqlRuleVersions:
    """RuleVersions on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def latest(self) -> dict[str, RuleVersion]:
        """Return the newest published version of each edited rule, by rule id."""
        newest = (select(rule_versions.c.rule_id, func.max(rule_versions.c.version).label("v"))
                  .group_by(rule_versions.c.rule_id).subquery())
        stmt = select(rule_versions).join(newest, (newest.c.rule_id == rule_versions.c.rule_id)
                                          & (newest.c.v == rule_versions.c.version))
        with self.engine.connect() as conn:
            return {r.rule_id: _version(r) for r in conn.execute(stmt)}

    def get(self, rule_id: str, version: int) -> RuleVersion | None:
        """Return one published version, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_versions).where(
                rule_versions.c.rule_id == rule_id,
                rule_versions.c.version == version)).first()
        return _version(row) if row else None

    def add(self, rule_id: str, version: int, yaml: str, at: datetime, actor: str) -> None:
        """Store a new version; Conflict if that version number was published already."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            try:
                conn.execute(insert(rule_versions), {
                    "rule_id": rule_id, "version": version, "yaml": yaml,
                    "published_at": at, "actor": actor})
            except IntegrityError:
                raise Conflict(f"version {version} of {rule_id} was published meanwhile") \
                    from None
            record(conn, Change("rule.publish", "rule", rule_id, None,
                                {"version": version - 1}, {"version": version, "yaml": yaml}))


def _version(row: Any) -> RuleVersion:
    return RuleVersion(row.rule_id, row.version, row.yaml, row.published_at, row.actor)
