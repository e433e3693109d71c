"""Full inventory counts by coverage: the definition, and the full_count_interval template.

A count is the count lines sharing a count id (their `reference`); it spans its first to
its last line. It is *full* when it covers every package METRC had on hand for the
license just before its first line, at every location: each such package has a line of
the count, or was sold in METRC between the count's first and last line (a package sold
out during the count needs no line). A count of nothing is not full. A count id pattern
is a hint only: it never makes a count full, it picks which count a finding explains.

`full_count_interval` wants, after each full count, the next one within the interval;
both backends (`store.coverage_sql`, the packet's `services.count_coverage`) read the
definition's numbers from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditor.domain.rules import Deadline

EMPTY = 1e-6  # METRC's quantity at or below this: the package is not on hand
LISTED = 20  # packages not counted that a finding or the packet lists by tag
COVERAGE = "coverage"  # the fact a message names: what the closest count left uncounted


@dataclass(frozen=True)
class FullCountIntervalParams:
    """full_count_interval: every full count is followed by the next within `deadline`.

    Findings are dated when the interval ran out and concern the license, not a
    package; a late full count makes a finding late (`rules.language.timeliness`).
    """

    deadline: Deadline
    message: str
    hint: str | None = None
    late_message: str | None = None

    date_by_deadline = True
    license_level = True

    @property
    def groups(self) -> tuple[tuple[Any, ...], ...]:
        """Return the follow-up groups: one, the next full count."""
        return ((),)


def coverage_sentence(column: Callable[[str], Any]) -> str:
    """Return what the count closest to full in a missed interval left uncounted.

    `column(name)` gives what the backend worked out for the finding: `closest` (its
    count id, None if no count came), `on_hand_at_start`, `not_counted` and `tags` (the
    first LISTED tags not counted, comma-separated, in any order).
    """
    count = column("closest")
    if count is None:
        return "No count at all was taken in the interval."
    missed, on_hand = int(column("not_counted") or 0), int(column("on_hand_at_start") or 0)
    if on_hand == 0:
        return f"The count taken in the interval ({count}) began with no package on hand."
    tags = sorted(t for t in str(column("tags") or "").split(",") if t)
    more = f" and {missed - len(tags)} more" if missed > len(tags) else ""
    return (f"The count closest to full in the interval, {count}, left {missed} of the "
            f"{on_hand} packages METRC had on hand at its start uncounted: "
            f"{', '.join(tags)}{more}.")
