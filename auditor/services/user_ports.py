"""The port the console's sign-in needs from storage: user accounts, and their record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class UserRecord:
    """A stored console user: organization, role and licenses, and the password's hash."""

    id: int
    email: str
    password_hash: str
    role: str
    licenses: tuple[str, ...]
    organization: str
    created_at: datetime
    disabled_at: datetime | None = None


class Users(Protocol):
    """Storage of console users by their (lower-cased) email."""

    def add(self, email: str, password_hash: str, role: str, licenses: tuple[str, ...],
            organization: str, created_at: datetime) -> UserRecord:
        """Store a user and return its record; Conflict if the email is taken."""

    def by_email(self, email: str) -> UserRecord | None:
        """Return the user with that email, disabled or not, or None."""

    def get(self, user_id: int) -> UserRecord | None:
        """Return the user with that id, or None."""

    def list(self) -> list[UserRecord]:
        """Return every user, oldest first."""

    def disable(self, email: str, at: datetime) -> None:
        """Mark a user disabled; NotFound if there is none."""
