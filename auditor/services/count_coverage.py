"""Full inventory counts recognised by what they cover, not by how their id is spelled.

A count (the lines sharing a count id) is full when it counts every package METRC had on
hand for the license at the count's start, at every location: each such package has a
line of the count between its first and last line, or was sold in METRC meanwhile (a
package sold out during the count needs no line). The definition and its numbers are
`rules.coverage`'s, which the reconciliation-overdue rule applies in SQL too; METRC's
on-hand is `rules.language.ON_HAND`. The packet lists each count of the period with what
it covered and the packages it missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from auditor.domain.events import EventType as T
from auditor.rules.coverage import EMPTY, LISTED
from auditor.rules.language import on_hand_delta
from auditor.services.report_ports import LoggedEvent
from auditor.services.tables import Column, Table

# What the coverage log replays: METRC's on-hand terms and the count lines.
COVERAGE_TYPES = (T.MANIFEST_PACKAGE, T.ADJUSTMENT, T.METRC_SALE_LINE, T.COUNT_LINE)


@dataclass
class Count:
    """One count: its span, the tags it counted, and what METRC had when it began."""

    count_id: str
    started: datetime
    ended: datetime
    counted: set[str] = field(default_factory=set)
    on_hand: set[str] = field(default_factory=set)
    sold: set[str] = field(default_factory=set)

    @property
    def missed(self) -> list[str]:
        """Return the packages on hand at the start that were neither counted nor sold."""
        return sorted(self.on_hand - self.counted - self.sold)


def counts_covered(history: Iterable[LoggedEvent], opens: datetime) -> list[Count]:
    """Return the counts that started at or after opens, each with its coverage.

    `history` is every accepted manifest line, adjustment, METRC sale and count line of
    the license up to the period's end, oldest first: on-hand needs all of it (the sales
    outside every count may come netted per package: `ActivityLog.coverage_events`).
    """
    events = list(history)
    starts = counts_in(events, opens)
    on_hand: dict[str, float] = {}
    pending, running = list(starts), []  # counts not begun yet; counts under way
    for event in events:
        while pending and pending[0].started <= event.occurred_at:
            first = pending.pop(0)  # METRC's packages just before the count's first line
            first.on_hand = {tag for tag, q in on_hand.items() if q > EMPTY}
            running.append(first)
        _move(on_hand, event)
        if event.type is T.METRC_SALE_LINE and running:
            running = [c for c in running if c.ended >= event.occurred_at]
            for count in running:
                count.sold.add(event.package_label or "")
    for count in pending:
        count.on_hand = {tag for tag, q in on_hand.items() if q > EMPTY}
    return starts


def counts_in(events: Iterable[LoggedEvent], opens: datetime) -> list[Count]:
    """Return the counts of the count lines at or after opens (span and tags counted),
    by when they started."""
    counts: dict[str, Count] = {}
    for event in events:
        if event.type is T.COUNT_LINE and event.occurred_at >= opens:
            key = str(event.payload.get("count_id") or event.reference or "")
            count = counts.setdefault(key, Count(key, event.occurred_at, event.occurred_at))
            count.ended = max(count.ended, event.occurred_at)
            count.counted.add(event.package_label or "")
    return sorted(counts.values(), key=lambda c: c.started)


def _move(on_hand: dict[str, float], event: LoggedEvent) -> None:
    """Apply an event to METRC's on-hand: accepted, plus adjustments, less METRC sales."""
    delta = on_hand_delta("metrc", event.type.value, event.payload)
    if delta is not None:
        tag = event.package_label or ""
        on_hand[tag] = on_hand.get(tag, 0.0) + delta


COLUMNS = [Column("count"), Column("started at", "datetime"), Column("ended at", "datetime"),
           Column("on hand in METRC at the start", "int"), Column("counted", "int"),
           Column("sold during the count", "int"), Column("not counted", "int"),
           Column("full by coverage"), Column("packages not counted", width=80)]


def full_count_log(history: Iterable[LoggedEvent], opens: datetime, zone: ZoneInfo) -> Table:
    """Return the period's counts with what each covered: full, or the packages it missed."""
    rows = []
    for count in counts_covered(history, opens):
        missed = count.missed
        listed = ", ".join(missed[:LISTED]) + (
            f" and {len(missed) - LISTED} more" if len(missed) > LISTED else "")
        rows.append([count.count_id, _local(count.started, zone), _local(count.ended, zone),
                     len(count.on_hand), len(count.counted & count.on_hand),
                     len(count.sold & count.on_hand - count.counted), len(missed),
                     "yes" if not missed and count.on_hand else "no", listed or None])
    return Table("full_counts", "Counts by coverage: full inventory counts and what they "
                 "missed", COLUMNS, rows)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")
