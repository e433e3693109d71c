"""Organizations (tenants) on SQL: add and list them, and find one by name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from auditor.domain.errors import Conflict, NotFound
from auditor.domain.license import check_organization_name
from auditor.domain.trail import Change
from auditor.store.engine import WRITE
from auditor.store.schema import licenses, organizations
from auditor.store.trail_sql import record


def organization_id(conn: Any, name: str) -> int:
    """Return the id of an organization by name, read in conn; NotFound naming the fix."""
    found = conn.scalar(select(organizations.c.id).where(organizations.c.name == name))
    if found is None:
        raise NotFound(f"unknown organization {name!r}: add it first with "
                       f"`auditor org add {name}`")
    return int(found)


class SqlOrganizations:
    """Organizations on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, name: str) -> None:
        """Add an organization; Conflict if the name is taken."""
        check_organization_name(name)
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            try:
                conn.execute(organizations.insert(), {"name": name,
                                                      "created_at": datetime.now(UTC)})
            except IntegrityError:
                raise Conflict(f"organization {name!r} already exists") from None
            record(conn, Change("organization.add", "organization", name, None, None,
                                {"organization": name}))

    def list(self) -> list[tuple[str, int]]:
        """Return every organization's name and how many licenses it holds, by name."""
        held = func.count(licenses.c.id)
        stmt = (select(organizations.c.name, held)
                .outerjoin(licenses, licenses.c.organization_id == organizations.c.id)
                .group_by(organizations.c.name).order_by(organizations.c.name))
        with self.engine.connect() as conn:
            return [(name, int(count)) for name, count in conn.execute(stmt)]
