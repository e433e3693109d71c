"""Failed authentications counted per source address and minute, and limited.

Each failure used to write its own trail entry, so a flood of made-up tokens flooded the
trail. Now, per address and minute, the trail gets the first failure, the moment the
address passes the limit, and, once the minute is over, the total; past the limit the
address is answered 429 without a database write. A valid token is never limited: a
token secret carries 256 bits, so the limit is there against floods, not guessing, and
a store's terminals behind one address keep working while something else misbehaves.

Counts live in the process: with several API processes each counts its own share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

WINDOW_SECONDS = 60
MAX_ADDRESSES = 10_000  # per window: beyond it, new addresses share one count


@dataclass(frozen=True)
class FailureReport:
    """What the trail should record: an address's failures in one window, so far or in all."""

    kind: str  # "first" failure, "limited" from now on, or "total" of a closed window
    address: str
    window_start: str  # ISO-8601 UTC
    failures: int


@dataclass(frozen=True)
class Verdict:
    """The answer to one failure: the reports due, and whether to refuse with 429."""

    reports: list[FailureReport]
    limited: bool
    retry_after: int


class FailedAuthentications:
    """Counts failures per (address, minute) against a limit; thread-safe."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def failed(self, address: str) -> Verdict:
        """Count a failure from an address; return the reports due and whether it is limited."""
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            reports = self._close_before(window)
            if (address, window) not in self._counts and len(self._counts) >= MAX_ADDRESSES:
                address = "(many addresses)"
            count = self._counts.get((address, window), 0) + 1
            self._counts[(address, window)] = count
        if count == 1:
            reports.append(_report("first", address, window, count))
        elif count == self.limit + 1:
            reports.append(_report("limited", address, window, count))
        retry = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
        return Verdict(reports, count > self.limit, max(retry, 1))

    def limited_for(self, address: str) -> int:
        """Return the seconds an address must still wait if it is past the limit, else 0.

        For callers that refuse before checking (a sign-in past its limit is refused
        even with the right password, so guessing stops for the rest of the minute).
        """
        now = self.clock()
        with self._lock:
            count = self._counts.get((address, int(now // WINDOW_SECONDS)), 0)
        return max(WINDOW_SECONDS - int(now % WINDOW_SECONDS), 1) if count >= self.limit else 0

    def _close_before(self, window: int) -> list[FailureReport]:
        """Forget windows that have ended; report the total of each with more than one failure."""
        ended = [key for key in self._counts if key[1] < window]
        totals = [(key, self._counts.pop(key)) for key in ended]
        return [_report("total", address, start, count)
                for (address, start), count in totals if count > 1]


def _report(kind: str, address: str, window: int, count: int) -> FailureReport:
    start = datetime.fromtimestamp(window * WINDOW_SECONDS, UTC).isoformat()
    return FailureReport(kind, address, start, count)
