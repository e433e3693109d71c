"""Decide, for each incoming record, whether it is new, a repeat, or a conflicting repeat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from auditor.domain.events import Event


class Outcome(StrEnum):
    """What became of one source record offered to the store."""

    ADDED = "added"
    DUPLICATE = "duplicate"  # every event already stored with the same content
    CONFLICT = "conflict"  # a key already stored with different content: refused


def classify(records: Sequence[Sequence[Event]],
             stored: Mapping[str, str]) -> tuple[list[Outcome], list[Event]]:
    """Classify records against stored key→fingerprint pairs; return outcomes and events to add.

    A record is all or nothing: one conflicting event refuses the whole record. Records
    earlier in the same batch count as stored, so a file that repeats a row adds it once.
    """
    seen = dict(stored)
    outcomes: list[Outcome] = []
    new: list[Event] = []
    for events in records:
        if len(events) == 1:  # most records are one event: the same decision, without lists
            event = events[0]
            stored_fp = seen.get(event.natural_key)
            if stored_fp is None:
                seen[event.natural_key] = event.fingerprint
                new.append(event)
                outcomes.append(Outcome.ADDED)
            else:
                outcomes.append(Outcome.DUPLICATE if stored_fp == event.fingerprint
                                else Outcome.CONFLICT)
            continue
        known = [seen.get(e.natural_key) for e in events]
        if any(fp is not None and fp != e.fingerprint for fp, e in zip(known, events, strict=True)):
            outcomes.append(Outcome.CONFLICT)
            continue
        fresh = [e for fp, e in zip(known, events, strict=True) if fp is None]
        if not fresh:
            outcomes.append(Outcome.DUPLICATE)
            continue
        for event in fresh:
            seen[event.natural_key] = event.fingerprint
        new.extend(fresh)
        outcomes.append(Outcome.ADDED)
    return outcomes, new
