"""Console users on SQL; every creation and disabling is written to the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.errors import Conflict, NotFound
from auditor.domain.trail import Change
from auditor.services.user_ports import UserRecord
from auditor.store.engine import WRITE
from auditor.store.organizations_sql import organization_id
from auditor.store.schema import organizations, users
from auditor.store.trail_sql import record


class SqlUsers:
    """Users on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, email: str, password_hash: str, role: str, licenses: tuple[str, ...],
            organization: str, created_at: datetime) -> UserRecord:
        """Store a user of an organization and return its record; Conflict if the email is taken."""
        row = {"email": email, "password_hash": password_hash, "role": role,
               "licenses": list(licenses), "created_at": created_at}
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            row["organization_id"] = organization_id(conn, organization)
            try:
                with conn.begin_nested():
                    user_id = int(conn.execute(users.insert().returning(users.c.id),
                                               row).scalar_one())
            except IntegrityError:
                raise Conflict(f"a user with email {email!r} exists already") from None
            record(conn, Change("user.create", "user", str(user_id), None, None,
                                {"email": email, "role": role, "licenses": list(licenses),
                                 "organization": organization}))
        return UserRecord(user_id, email, password_hash, role, licenses, organization,
                          created_at)

    def by_email(self, email: str) -> UserRecord | None:
        """Return the user with that email, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(_users().where(users.c.email == email)).first()
        return _user(row) if row else None

    def get(self, user_id: int) -> UserRecord | None:
        """Return the user with that id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(_users().where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def list(self) -> list[UserRecord]:
        """Return every user, oldest first."""
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(_users().order_by(users.c.id))]

    def disable(self, email: str, at: datetime) -> None:
        """Mark a user disabled (from now on, signed-in sessions too); NotFound if none."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            done = conn.execute(update(users).where(users.c.email == email,
                                                    users.c.disabled_at.is_(None))
                                .values(disabled_at=at))
            if done.rowcount == 0:
                exists = conn.scalar(select(users.c.id).where(users.c.email == email))
                if exists is None:
                    raise NotFound(f"no user {email!r}: `auditor user list` lists them")
                return  # disabled already
            record(conn, Change("user.disable", "user", email, None,
                                {"disabled_at": None}, {"disabled_at": at.isoformat()}))


def _users() -> Select[Any]:
    return select(users, organizations.c.name.label("organization")).join(
        organizations, organizations.c.id == users.c.organization_id)


def _user(row: Any) -> UserRecord:
    return UserRecord(row.id, row.email, row.password_hash, row.role, tuple(row.licenses),
                      row.organization, row.created_at, row.disabled_at)
