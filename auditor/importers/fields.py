"""Strict field parsers shared by every importer; each failure names the field and the value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo

from auditor.domain.errors import RowRejected
from auditor.domain.events import iso_text

# METRC writes 0001-01-01 for "not set".
_UNSET_YEAR = 1

UNITS = {
    "each": "Each", "ea": "Each",
    "grams": "Grams", "gram": "Grams", "g": "Grams",
    "milligrams": "Milligrams", "mg": "Milligrams",
    "kilograms": "Kilograms", "kg": "Kilograms",
    "ounces": "Ounces", "ounce": "Ounces", "oz": "Ounces",
    "pounds": "Pounds", "pound": "Pounds", "lb": "Pounds",
}


def _refuse_if_required(name: str, required: bool, problem: str = "is required") -> None:
    """Refuse a missing value of a required field; an optional one is simply None."""
    if required:
        raise RowRejected(f"{name} {problem}")
    return None


@overload
def text(row: Mapping[str, Any], name: str, *, required: Literal[True] = ...,
         max_len: int = ...) -> str: ...
@overload
def text(row: Mapping[str, Any], name: str, *, required: bool,
         max_len: int = ...) -> str | None: ...
def text(row: Mapping[str, Any], name: str, *, required: bool = True,
         max_len: int = 500) -> str | None:
    """Return a text field with surrounding whitespace removed; empty means missing."""
    value = row.get(name)
    if type(value) is str:  # the common case, checked cheaply: imports parse millions
        stripped = value.strip()
        if stripped and len(stripped) <= max_len and "\x00" not in stripped:
            return stripped
    if value is None or (isinstance(value, str) and not value.strip()):
        _refuse_if_required(name, required)
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowRejected(f"{name} must be text, got {type(value).__name__}")
    value = str(value).strip()
    if "\x00" in value:
        raise RowRejected(f"{name} contains a NUL character")
    if len(value) > max_len:
        raise RowRejected(f"{name} is longer than {max_len} characters")
    return value


def raw_text(row: Mapping[str, Any], name: str, *, max_len: int = 2000) -> str | None:
    """Return a free-text field exactly as sent (notes are evidence: length matters)."""
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowRejected(f"{name} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise RowRejected(f"{name} contains a NUL character")
    if len(value) > max_len:
        raise RowRejected(f"{name} is longer than {max_len} characters")
    return value


def tag(row: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """Return a package tag as it came (trimmed only); malformed tags are kept as evidence."""
    return text(row, name, required=required, max_len=64)


@overload
def number(row: Mapping[str, Any], name: str, *, required: Literal[True] = ...) -> float: ...
@overload
def number(row: Mapping[str, Any], name: str, *, required: bool) -> float | None: ...
def number(row: Mapping[str, Any], name: str, *, required: bool = True) -> float | None:
    """Return a finite decimal number from a JSON number or a plain decimal string."""
    value = row.get(name)
    if type(value) is float and math.isfinite(value):
        return value
    if type(value) is str and value:  # CSV's usual case; anything odd takes the checks below
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        if math.isfinite(parsed):
            return parsed
    if value is None or value == "":
        _refuse_if_required(name, required)
        return None
    if isinstance(value, bool):
        raise RowRejected(f"{name} must be a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise RowRejected(f"{name} must be a number, got {value!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RowRejected(f"{name} must be a finite number, got {value!r}")
    return float(value)


def integer(row: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    """Return a whole number."""
    value = number(row, name, required=required)
    if value is None:
        return None
    if not value.is_integer():
        raise RowRejected(f"{name} must be a whole number, got {value!r}")
    return int(value)


def boolean(row: Mapping[str, Any], name: str, *, default: bool | None = False) -> bool | None:
    """Return a boolean from JSON true/false or the words true/false/yes/no/1/0."""
    value = row.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no",
                                                            "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise RowRejected(f"{name} must be true or false, got {value!r}")


def unit(row: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """Return a METRC unit-of-measure name, accepting its common abbreviations."""
    value = text(row, name, required=required, max_len=40)
    if value is None:
        return None
    try:
        return UNITS[value.lower()]
    except KeyError:
        known = ", ".join(sorted(set(UNITS.values())))
        raise RowRejected(f"{name} {value!r} is not a known unit ({known})") from None


def choice(row: Mapping[str, Any], name: str, allowed: frozenset[str], *,
           required: bool = True) -> str | None:
    """Return a text field that must be one of the allowed values."""
    value = text(row, name, required=required, max_len=60)
    if value is not None and value not in allowed:
        raise RowRejected(f"{name} {value!r} must be one of {', '.join(sorted(allowed))}")
    return value


def _parse_iso(name: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise RowRejected(f"{name} must be an ISO 8601 time, got {value!r}")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowRejected(f"{name} {value!r} is not an ISO 8601 time") from None


def _timestamp(row: Mapping[str, Any], name: str, required: bool) -> datetime | None:
    value = row.get(name)
    if type(value) is str:  # the usual case, parsed once; anything odd takes the checks below
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.year != _UNSET_YEAR:
                return parsed
    if value is None or value == "":
        _refuse_if_required(name, required)
        return None
    parsed = _parse_iso(name, value)
    if parsed.year == _UNSET_YEAR:
        _refuse_if_required(name, required, "is not set (0001-01-01)")
        return None
    return parsed


@overload
def aware_time(row: Mapping[str, Any], name: str, *, required: Literal[True] = ...) -> datetime: ...
@overload
def aware_time(row: Mapping[str, Any], name: str, *, required: bool) -> datetime | None: ...
def aware_time(row: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    """Return a time that must carry a UTC offset, converted to UTC."""
    parsed = _timestamp(row, name, required)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        raise RowRejected(f"{name} {row[name]!r} has no UTC offset "
                          "(write e.g. 2026-01-05T14:02:00-08:00)")
    return parsed.astimezone(UTC)


@overload
def local_time(row: Mapping[str, Any], name: str, zone: ZoneInfo, *,
               required: Literal[True] = ...) -> datetime: ...
@overload
def local_time(row: Mapping[str, Any], name: str, zone: ZoneInfo, *,
               required: bool) -> datetime | None: ...
def local_time(row: Mapping[str, Any], name: str, zone: ZoneInfo, *,
               required: bool = True) -> datetime | None:
    """Return a METRC facility-local time (no zone) placed in the license's zone, in UTC.

    A value that does carry an offset is honoured as such.
    """
    parsed = _timestamp(row, name, required)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return in_zone(parsed, zone, name, row[name])
    return parsed.astimezone(UTC)


def in_zone(local: datetime, zone: ZoneInfo, name: str, value: Any) -> datetime:
    """Place a wall-clock time in a zone and return it in UTC.

    A time in the hour that repeats when daylight saving ends, or in the hour skipped
    when it begins, cannot be placed without guessing, so it is refused.
    """
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        problem = ("is ambiguous: that hour repeats when daylight saving ends"
                   if round_trip == local else
                   "does not exist: that hour is skipped when daylight saving begins")
        raise RowRejected(f"{name} {value!r} {problem} in {zone.key}; write it with its "
                          "UTC offset")
    return first.astimezone(UTC)


@overload
def day(row: Mapping[str, Any], name: str, *, required: Literal[True] = ...) -> date: ...
@overload
def day(row: Mapping[str, Any], name: str, *, required: bool) -> date | None: ...
def day(row: Mapping[str, Any], name: str, *, required: bool = True) -> date | None:
    """Return a calendar date (YYYY-MM-DD; a full timestamp keeps only its date)."""
    value = row.get(name)
    if value is None or value == "":
        _refuse_if_required(name, required)
        return None
    if not isinstance(value, str):
        raise RowRejected(f"{name} must be a date, got {value!r}")
    try:
        parsed = date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RowRejected(f"{name} {value!r} is not a YYYY-MM-DD date") from None
    if parsed.year == _UNSET_YEAR:
        _refuse_if_required(name, required, "is not set (0001-01-01)")
        return None
    return parsed


def start_of_day(value: date, zone: ZoneInfo) -> datetime:
    """Return local midnight of a date in the license's zone, in UTC."""
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)


def iso(value: datetime | date | None) -> str | None:
    """Return the ISO 8601 text of a time or date for an event payload."""
    if type(value) is datetime:
        return iso_text(value)
    return None if value is None else value.isoformat()
