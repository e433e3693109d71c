"""The exceptions the product raises, one tree so callers can catch at the right depth.

    AuditorError
    ├── NotFound                 a named thing does not exist (404)
    │   └── UnknownLicense
    ├── InvalidInput             the caller sent something unusable (422)
    │   ├── RowRejected          one source record cannot be parsed
    │   ├── FileRejected         a whole source file cannot be read
    │   └── NaiveDateTime        a time without a zone reached the core
    ├── Conflict                 the request clashes with what is stored (409)
    └── StoreNotReady            the database schema is missing or out of date
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error the product raises on purpose."""


class NotFound(AuditorError):
    """A named thing does not exist."""


class UnknownLicense(NotFound):
    """No license with that number has been added."""

    def __init__(self, number: str) -> None:
        super().__init__(
            f"unknown license {number!r}: add it first with "
            f"`auditor license add {number} --state XX --timezone Area/City`"
        )
        self.number = number


class InvalidInput(AuditorError):
    """The caller sent something unusable."""


class RowRejected(InvalidInput):
    """One source record cannot be parsed; the reason says which field and why."""


class FileRejected(InvalidInput):
    """A whole source file cannot be read; nothing from it is imported."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{reason}; nothing was imported from this file")
        self.reason = reason
        self.line = line


class NaiveDateTime(InvalidInput):
    """A datetime without a time zone reached the core, where every time is tz-aware."""


class Conflict(AuditorError):
    """The request clashes with what is already stored."""


class StoreNotReady(AuditorError):
    """The database schema is missing or older than this code."""
