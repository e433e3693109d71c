"""Read event fields and judge conditions in Python exactly as the SQL backend does.

Fields are typed by the kinds the rule language declares (`rules.language`), before
any value reaches the engine (durable-rules compares loosely: `'9' > 10` matches).
Conditions keep SQL's three values: None means unknown, and a condition that is unknown
never holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.rules.language import (
    COLUMNS,
    LICENSE_PREFIX,
    STATE_PREFIX,
    Kind,
    kind_of,
    typed_value,
)
from auditor.rules.params import Condition

OnHand = Callable[[str | None], float]


class Reader:
    """Reads an event's fields typed by kind, with its package state and license values."""

    def __init__(self, event: StreamEvent, license: License,
                 state: StreamEvent | None = None, on_hand: OnHand | None = None) -> None:
        self.event, self.license, self.state, self.on_hand = event, license, state, on_hand

    def value(self, raw: Any, field: str) -> Any:
        """Return a condition's value typed as its field, "@license.NAME" from the license."""
        if isinstance(raw, str) and raw.startswith(LICENSE_PREFIX):
            found = getattr(self.license, raw.removeprefix(LICENSE_PREFIX))
            return list(found) if isinstance(found, tuple) else found
        return typed_value(field, raw)

    def __getitem__(self, name: str) -> Any:
        if name.startswith(STATE_PREFIX):
            if self.state is None:
                return None
            return Reader(self.state, self.license)[name.removeprefix(STATE_PREFIX)]
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
    kind = kind_of(name)
    if kind is Kind.NUMBER:
        return float(raw)
    if kind is Kind.DATE and isinstance(raw, str):
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


def condition(reader: Reader, spec: Condition) -> bool | None:
    """Judge one `field op value` condition: True, False or None (unknown, never holds)."""
    if spec.any:
        return any(condition(reader, c) is True for c in spec.any)
    op = spec.op
    value: Any = reader[spec.other] if spec.other else reader.value(spec.value, spec.field)
    expr = reader[spec.field]
    if spec.shift is not None and spec.other:
        expr, other = reader.time(spec.field), reader.time(spec.other)
        value = None if other is None else other + spec.shift
    if spec.tolerance is not None:
        if expr is None or value is None:
            return None
        apart = abs(float(expr) - float(value))
        return apart <= spec.tolerance if op == "eq" else apart > spec.tolerance
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


def all_hold(reader: Reader, specs: Sequence[Condition]) -> bool:
    """Return whether every condition holds (an unknown one does not)."""
    return all(condition(reader, c) is True for c in specs)
