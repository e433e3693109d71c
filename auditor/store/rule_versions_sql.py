"""Published rule versions on SQL: each edit a new row per organization, old ones readable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from auditor.domain.errors import Conflict
from auditor.domain.license import DEFAULT_ORGANIZATION
from auditor.domain.trail import Change
from auditor.services.api_ports import RuleVersion
from auditor.store.engine import WRITE
from auditor.store.organizations_sql import organization_id
from auditor.store.schema import organizations, rule_versions
from auditor.store.trail_sql import record


class SqlRuleVersions:
    """RuleVersions of one organization on a SQLAlchemy engine."""

    def __init__(self, engine: Engine, organization: str = DEFAULT_ORGANIZATION) -> None:
        self.engine = engine
        self.organization = organization

    def of(self, organization: str) -> SqlRuleVersions:
        """Return the published versions of another organization."""
        return SqlRuleVersions(self.engine, organization)

    def _owned(self) -> Any:
        """Return the condition selecting this organization's rows."""
        return rule_versions.c.organization_id == (
            select(organizations.c.id).where(organizations.c.name == self.organization)
            .scalar_subquery())

    def latest(self) -> dict[str, RuleVersion]:
        """Return the newest published version of each edited rule, by rule id."""
        newest = (select(rule_versions.c.rule_id, func.max(rule_versions.c.version).label("v"))
                  .where(self._owned()).group_by(rule_versions.c.rule_id).subquery())
        stmt = select(rule_versions).where(self._owned()).join(
            newest, (newest.c.rule_id == rule_versions.c.rule_id)
            & (newest.c.v == rule_versions.c.version))
        with self.engine.connect() as conn:
            return {r.rule_id: _version(r) for r in conn.execute(stmt)}

    def get(self, rule_id: str, version: int) -> RuleVersion | None:
        """Return one published version, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_versions).where(
                self._owned(), rule_versions.c.rule_id == rule_id,
                rule_versions.c.version == version)).first()
        return _version(row) if row else None

    def add(self, rule_id: str, version: int, yaml: str, at: datetime, actor: str,
            licenses: Sequence[str] = ()) -> None:
        """Store a new version; Conflict if that version number was published already.

        The trail entry names the organization and the licenses the change affects, so
        each of those licenses' regulators sees it.
        """
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            try:
                conn.execute(insert(rule_versions), {
                    "rule_id": rule_id, "version": version, "yaml": yaml,
                    "published_at": at, "actor": actor,
                    "organization_id": organization_id(conn, self.organization)})
            except IntegrityError:
                raise Conflict(f"version {version} of {rule_id} was published meanwhile") \
                    from None
            record(conn, Change("rule.publish", "rule", rule_id, None,
                                {"version": version - 1},
                                {"version": version, "yaml": yaml,
                                 "organization": self.organization,
                                 "licenses": sorted(licenses)}))


def _version(row: Any) -> RuleVersion:
    return RuleVersion(row.rule_id, row.version, row.yaml, row.published_at, row.actor)
