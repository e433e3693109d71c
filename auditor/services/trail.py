"""Reading and verifying the audit trail, through a port the SQL adapter implements.

Writing is not here: each adapter records its own changes inside the transaction that
makes them (`auditor.store.trail_sql.record`), so a change and its entry commit or roll
back together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from auditor.domain.trail import Change, Entry, Head, Verdict, decode, verify

MAX_PAGE = 500


class Trail(Protocol):
    """The stored trail: its rows in seq order, its head, and self-contained records."""

    def rows(self, after: int = 0, limit: int | None = None) -> Iterator[Mapping[str, Any]]:
        """Yield stored rows after seq `after`, undecoded, in seq order."""

    def head(self) -> Head | None:
        """Return the newest entry's seq and hash, or None for an empty trail."""

    def record(self, change: Change) -> Entry:
        """Record a change that writes nothing else, in a transaction of its own."""


class NoTrail:
    """A trail that records nothing: for stores kept in memory (tests, benchmarks)."""

    def rows(self, after: int = 0, limit: int | None = None) -> Iterator[Mapping[str, Any]]:
        """Yield nothing."""
        return iter(())

    def head(self) -> Head | None:
        """Return None: there is no trail."""
        return None

    def record(self, change: Change) -> Entry:
        """Refuse: an in-memory store keeps no trail."""
        raise NotImplementedError("this store keeps no audit trail")


def verify_trail(trail: Trail, key: bytes | None = None,
                 published: Head | None = None) -> Verdict:
    """Verify the whole stored trail; the verdict names the first broken entry, if any."""
    return verify(trail.rows(), key, published)


def head_json(trail: Trail) -> dict[str, Any] | None:
    """Return the trail head as a packet carries it: {"seq", "sha256"}, or None if empty."""
    head = trail.head()
    return {"seq": head.seq, "sha256": head.hash} if head else None


def page(trail: Trail, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Return up to limit entries after seq `after`, and the seq to continue after (or None).

    A row too damaged to read stops the page there: `auditor trail verify` names it.
    """
    limit = max(1, min(limit, MAX_PAGE))
    entries = []
    for row in trail.rows(after, limit):
        try:
            entries.append(decode(row).as_json())
        except ValueError:
            break
    more = len(entries) == limit
    return entries, entries[-1]["seq"] if more else None
