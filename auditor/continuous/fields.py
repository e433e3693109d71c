"""Read event fields and judge conditions in Python exactly as `store.sql_fields` does in SQL.

The host types every value before it reaches the engine (durable-rules compares loosely:
`'9' > 10` matches). Conditions keep SQL's three values: None means unknown, and a
condition that is unknown never holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from auditor.domain.license import License
from auditor.domain.rules import parse_duration
from auditor.store.sql_fields import COLUMNS, DATES, NUMBERS


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One stored event as the worker reads it: id, type, time, columns and payload."""

    id: int
    type: str
    occurred_at: datetime
    package_label: str | None
    reference: str | None
    payload: Mapping[str, Any]
    t: float = field(init=False, repr=False, compare=False)  # POSIX seconds, the engine's

    def __post_init__(self) -> None:
        """Work out the event time in POSIX seconds once (every program reads it)."""
        object.__setattr__(self, "t", self.occurred_at.timestamp())


OnHand = Callable[[str | None], float]


class Reader:
    """Reads an event's fields typed by kind, with its package state and license values."""

    def __init__(self, event: StreamEvent, license: License,
                 state: StreamEvent | None = None, on_hand: OnHand | None = None) -> None:
        self.event, self.license, self.state, self.on_hand = event, license, state, on_hand

    def value(self, raw: Any) -> Any:
        """Return a condition's value, reading "@license.NAME" from the license."""
        if isinstance(raw, str) and raw.startswith("@license."):
            found = getattr(self.license, raw.removeprefix("@license."))
            return list(found) if isinstance(found, tuple) else found
        return raw

    def __getitem__(self, name: str) -> Any:
        if name.startswith("state."):
            if self.state is None:
                return None
            return Reader(self.state, self.license)[name.removeprefix("state.")]
        if name == "local_date":
            return self.event.occurred_at.astimezone(self.license.zone()).date()
        if name == "on_hand":
            return None if self.on_hand is None else self.on_hand(self.event.package_label)
        if name in COLUMNS:
            return getattr(self.event, name)
        return typed(name, self.event.payload.get(name))

    def time(self, name: str = "occurred_at") -> datetime | None:
        """Return a time field (the event time by default) as an aware datetime."""
        if name == "occurred_at":
            return self.event.occurred_at
        return as_time(self[name])


def typed(name: str, raw: Any) -> Any:
    """Return a payload value as the SQL backend reads it: numbers, dates, booleans, text."""
    if raw is None:
        return None
    if name in NUMBERS:
        return float(raw) if not isinstance(raw, bool) else float(raw)
    if name in DATES and isinstance(raw, str):
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            return raw
    return raw


def as_time(value: Any) -> datetime | None:
    """Return an ISO 8601 text with offset as an aware datetime, or None."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"  # SQLite keeps JSON booleans as 1 and 0
    return str(value).strip()


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    try:
        return {"eq": left == right, "ne": left != right}[op] if op in ("eq", "ne") else \
            {"lt": left < right, "le": left <= right, "gt": left > right,
             "ge": left >= right}[op]
    except TypeError:
        return None


def condition(reader: Reader, spec: Mapping[str, Any]) -> bool | None:
    """Judge one `field op value` condition: True, False or None (unknown, never holds)."""
    if "any" in spec:
        return any(condition(reader, c) is True for c in spec["any"])
    op = spec["op"]
    value: Any = reader[spec["other"]] if "other" in spec else reader.value(spec.get("value"))
    expr = reader[spec["field"]]
    if "shift" in spec:
        expr, other = reader.time(spec["field"]), reader.time(spec["other"])
        value = None if other is None else other + parse_duration(spec["shift"])
    if "tolerance" in spec:
        if expr is None or value is None:
            return None
        apart = abs(float(expr) - float(value))
        return apart <= spec["tolerance"] if op == "eq" else apart > spec["tolerance"]
    return _judge(op, expr, value)


def _judge(op: str, expr: Any, value: Any) -> bool | None:
    if op in ("eq", "ne", "lt", "le", "gt", "ge"):
        return _compare(op, expr, value)
    if op in ("in", "not_in"):
        if expr is None:
            return None
        return (expr in value) == (op == "in")
    if op in ("matches", "not_matches"):
        if expr is None:
            return None
        found = _pattern(value).search(str(expr)) is not None
        return found == (op == "matches")
    text = _text(expr)
    if op == "empty":
        return text is None or text == ""
    if op == "not_empty":
        return None if text is None else text != ""
    if op == "length_between":
        return None if text is None else value[0] <= len(text) <= value[1]
    if op in ("is_true", "is_false"):
        return None if expr is None else bool(expr) == (op == "is_true")
    raise ValueError(f"unknown operator {op!r}")


def all_hold(reader: Reader, specs: Sequence[Mapping[str, Any]]) -> bool:
    """Return whether every condition holds (an unknown one does not)."""
    return all(condition(reader, c) is True for c in specs)


def shifted(when: datetime, duration: str) -> datetime:
    """Return when moved by an ISO 8601 duration."""
    return when + parse_duration(duration)


ZERO = timedelta(0)
