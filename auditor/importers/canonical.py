"""Canonical events as JSON (an array) or NDJSON: the store's own format, read strictly."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from auditor.domain.errors import RowRejected
from auditor.domain.events import EVENT_FIELDS, Event, EventType
from auditor.importers import fields as f
from auditor.importers.base import Format, ParseContext
from auditor.importers.sources import Data, first_byte, json_records, ndjson_records
from auditor.rules.language import PAYLOAD_KINDS, Kind

_TYPES = frozenset(t.value for t in EventType)
FIELDS = frozenset({"type", "occurred_at", "natural_key", "package_label", "reference",
                    "payload"})


def read_events(data: Data) -> Iterable[tuple[int, Any]]:
    """Read a JSON array of events, or one event object per line (NDJSON)."""
    if first_byte(data) == b"[":
        return json_records(data)
    return ndjson_records(data)


def _has_nul(value: Any) -> bool:
    """Say whether a NUL character hides in any string of a JSON value (PostgreSQL refuses it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def canonical_event(row: Mapping[str, Any], ctx: ParseContext) -> list[Event]:
    """Check one canonical event: a known type, an aware time, and only that type's fields."""
    kind = f.text(row, "type", max_len=60)
    if kind not in _TYPES:
        raise RowRejected(f"type {kind!r} must be one of {', '.join(sorted(_TYPES))}")
    event_type = EventType(kind)
    payload = row.get("payload")
    if not isinstance(payload, dict):
        raise RowRejected("payload must be an object")
    if _has_nul(payload):
        raise RowRejected("payload contains a NUL character")
    unknown = set(payload) - EVENT_FIELDS[event_type]
    if unknown:
        raise RowRejected(
            f"payload has fields unknown to {event_type}: {', '.join(sorted(unknown))}")
    for name, value in payload.items():
        _typed(name, value)
    return [Event(event_type, f.aware_time(row, "occurred_at"),
                  f.text(row, "natural_key", max_len=400), payload,
                  package_label=f.tag(row, "package_label", required=False),
                  reference=f.text(row, "reference", required=False))]


def _typed(name: str, value: Any) -> None:
    """Refuse a payload value that is not of its field's declared kind (null is allowed):
    a rule compares a quantity as a number, so "lots" stored as one would be judged as 0."""
    if value is None:
        return
    kind = PAYLOAD_KINDS.get(name, Kind.TEXT)
    if kind is Kind.NUMBER:
        good = isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value)
    elif kind is Kind.BOOLEAN:
        good = isinstance(value, bool)
    elif kind in (Kind.DATE, Kind.TIME):
        good = isinstance(value, str) and _readable(value, kind)
    else:  # METRC writes its ids (transfer_id, package_metrc_id...) as numbers
        good = isinstance(value, str) or (name.endswith("_id") and type(value) is int)
    if not good:
        raise RowRejected(f"payload {name} must be {_EXPECTED[kind]}, got {value!r:.60}")


_EXPECTED = {Kind.NUMBER: "a number", Kind.BOOLEAN: "true or false",
             Kind.DATE: "an ISO date (2026-01-31)",
             Kind.TIME: "an ISO time with an offset (2026-01-31T14:00:00-08:00)",
             Kind.TEXT: "text (an id may be a whole number)"}


def _readable(value: str, kind: Kind) -> bool:
    """Say whether an ISO date or time reads as one (a time must carry its offset)."""
    try:
        if kind is Kind.DATE:
            date.fromisoformat(value[:10])
            return True
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


FORMATS = [Format("events", "canonical events, JSON array or NDJSON", read_events,
                  canonical_event, FIELDS, strict=True)]
