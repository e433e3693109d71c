"""Read raw files into records with line numbers: JSON (bare, METRC envelope, NDJSON) and CSV.

Structural problems (bad encoding, broken JSON, an unterminated CSV quote, a wrong
header) reject the whole file before anything is written; problems inside one record
are left for the format's parser to reject with that record's line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

from auditor.domain.errors import FileRejected, RowRejected

_WS = " \t\r\n"
MAX_CSV_FIELD = 100_000


def decode(data: bytes) -> str:
    """Decode UTF-8 (a leading BOM is dropped), naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(f"not valid UTF-8 (byte {exc.start})", line) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(literal: str) -> float:
    """Parse a JSON number, refusing one too large for a float (1e999 would become inf)."""
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is too large for a number")
    return value


def _load(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise FileRejected(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except ValueError as exc:
        raise FileRejected(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise FileRejected("invalid JSON: nested too deeply") from None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _array_offsets(text: str, pos: int) -> list[int]:
    """Return the start offset of each element of the JSON array that opens at pos."""
    decoder = json.JSONDecoder()
    offsets: list[int] = []
    pos = _skip_ws(text, pos + 1)
    while text[pos] != "]":
        offsets.append(pos)
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return offsets


def _data_offsets(text: str, pos: int) -> list[int]:
    """Return element offsets of the `Data` array inside the envelope object at pos."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, pos + 1)
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past the colon
        if key == "Data":
            return _array_offsets(text, pos)
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return []


def _line_numbers(text: str, offsets: list[int]) -> list[int]:
    lines, line, last = [], 1, 0
    for offset in offsets:
        line += text.count("\n", last, offset)
        last = offset
        lines.append(line)
    return lines


def json_records(data: bytes) -> list[tuple[int, Any]]:
    """Return (line, record) pairs from a bare array, a METRC `Data` envelope or one object."""
    text = decode(data)
    if not text.strip():
        raise FileRejected("the file is empty")
    document = _load(text)
    start = _skip_ws(text, 0)
    if isinstance(document, list):
        return list(zip(_line_numbers(text, _array_offsets(text, start)), document, strict=True))
    if isinstance(document, dict) and "Data" in document:
        rows = document["Data"]
        if not isinstance(rows, list):
            raise FileRejected("the envelope's Data must be a list")
        return list(zip(_line_numbers(text, _data_offsets(text, start)), rows, strict=True))
    if isinstance(document, dict):
        return [(_line_numbers(text, [start])[0], document)]
    raise FileRejected("expected a JSON array, a METRC {\"Data\": [...]} envelope or an object")


def ndjson_records(data: bytes) -> Iterator[tuple[int, Any]]:
    """Return (line, record) pairs from newline-delimited JSON; a bad line gives a RowRejected."""
    text = decode(data)
    if not text.strip():
        raise FileRejected("the file is empty")
    return _ndjson_lines(text)


def _ndjson_lines(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line, parse_constant=_refuse_constant,
                                     parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            yield number, RowRejected(f"invalid JSON: {exc}")


def _check_csv_structure(text: str) -> None:
    """Read the whole file once so a broken quote rejects it before anything is written."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileRejected(f"malformed CSV in the record starting here: {exc}", start) from None


def csv_records(data: bytes, columns: tuple[str, ...], *,
                extra_allowed: bool = False) -> Iterator[tuple[int, Any]]:
    """Return (line, row dict) pairs from a CSV whose header names exactly the given columns.

    With extra_allowed (a vendor export read through a profile), the header must hold
    the columns and may hold others, which are ignored.

    The file's structure is checked before this returns; a row with the wrong number
    of fields later gives a RowRejected in place of its dict.
    """
    text = decode(data)
    if not text.strip():
        raise FileRejected("the file is empty; a header row is required")
    csv.field_size_limit(MAX_CSV_FIELD)
    _check_csv_structure(text)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = [name.strip() for name in next(reader)]
    _check_header(header, columns, extra_allowed)
    return _csv_rows(reader, header)


def _csv_rows(reader: Any, header: list[str]) -> Iterator[tuple[int, Any]]:
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            yield line, RowRejected(f"expected {len(header)} fields, found {len(row)}")
            continue
        yield line, dict(zip(header, row, strict=True))


def _check_header(header: list[str], columns: tuple[str, ...], extra_allowed: bool) -> None:
    checked = [name for name in header if name in columns] if extra_allowed else header
    if len(set(checked)) != len(checked):
        raise FileRejected("the header repeats a column name", 1)
    missing = [name for name in columns if name not in header]
    unknown = [] if extra_allowed else [name for name in header if name not in columns]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown columns: {', '.join(unknown)}")
        raise FileRejected(f"{'; '.join(parts)} (expected: {', '.join(columns)})", 1)
