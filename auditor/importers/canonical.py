"""Canonical events as JSON (an array) or NDJSON: the store's own format, read strictly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.domain.errors import RowRejected
from auditor.domain.events import EVENT_FIELDS, Event, EventType
from auditor.importers import fields as f
from auditor.importers.base import Format, ParseContext
from auditor.importers.sources import Data, first_byte, json_records, ndjson_records

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
    return [Event(event_type, f.aware_time(row, "occurred_at"),
                  f.text(row, "natural_key", max_len=400), payload,
                  package_label=f.tag(row, "package_label", required=False),
                  reference=f.text(row, "reference", required=False))]


FORMATS = [Format("events", "canonical events, JSON array or NDJSON", read_events,
                  canonical_event, FIELDS, strict=True)]
