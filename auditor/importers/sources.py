"""Read raw files into records with line numbers: JSON (bare, METRC envelope, NDJSON) and CSV.

Files are read as streams, from bytes in memory or from a path, so a file of any size
is held one chunk or one record at a time. Structural problems (bad encoding, broken
JSON, an unterminated CSV quote, a wrong header) reject the whole file before anything
is written: each reader makes a first pass that only checks, then a second that yields.
Problems inside one record are left for the format's parser to reject with its line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from auditor.domain.errors import FileRejected, RowRejected
from auditor.importers.json_stream import DECODER, json_stream

Data = bytes | Path
MAX_CSV_FIELD = 100_000
MAX_LINE_CHARS = 32 << 20
# Files up to this size are read once and their records held (~10 times the size in
# memory); larger files are read twice, checked and then streamed, so memory stays flat.
HELD_BYTES = 8 << 20


@contextmanager
def open_binary(data: Data) -> Iterator[IO[bytes]]:
    """Open bytes or a file for reading in binary."""
    if isinstance(data, bytes):
        yield io.BytesIO(data)
        return
    with data.open("rb") as handle:
        yield handle


@contextmanager
def open_text(data: Data) -> Iterator[IO[str]]:
    """Open bytes or a file as UTF-8 text (a leading BOM dropped, line ends kept as sent)."""
    with open_binary(data) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            yield text
        except UnicodeDecodeError:
            raise _bad_utf8(data) from None
        finally:
            text.detach()


def _bad_utf8(data: Data) -> FileRejected:
    """Find the first byte that is not UTF-8 and name its line (a slow path, only on error)."""
    offset = 0
    with open_binary(data) as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return FileRejected(f"not valid UTF-8 (byte {offset + exc.start})", number)
            offset += len(line)
    return FileRejected("not valid UTF-8")


def first_byte(data: Data) -> bytes:
    """Return the file's first byte that is not whitespace (b'' if there is none)."""
    with open_binary(data) as raw:
        while chunk := raw.read(1 << 16):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1]
    return b""


def _size(data: Data) -> int:
    """Return the size in bytes of the file or the bytes."""
    return len(data) if isinstance(data, bytes) else data.stat().st_size


def _text_lines(text: IO[str]) -> Iterator[str]:
    """Yield physical lines, refusing one too long to be a CSV or NDJSON record."""
    while line := text.readline(MAX_LINE_CHARS):
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise FileRejected(f"a line is longer than {MAX_LINE_CHARS >> 20} M characters")
        yield line


def json_records(data: Data) -> Iterator[tuple[int, Any]]:
    """Return (line, record) pairs from a bare array, a METRC `Data` envelope or one object.

    The whole file is checked before this returns. A file of up to HELD_BYTES is read
    once and its records held; a larger one is read again, one record at a time.
    """
    if _size(data) <= HELD_BYTES:
        return iter(list(_json_pass(data)))
    for _ in _json_pass(data):
        pass
    return _json_pass(data)


def _json_pass(data: Data) -> Iterator[tuple[int, Any]]:
    with open_text(data) as text:
        yield from json_stream(text)


def ndjson_records(data: Data) -> Iterator[tuple[int, Any]]:
    """Return (line, record) pairs from newline-delimited JSON; a bad line gives a RowRejected."""
    blank = True
    with open_text(data) as text:
        for line in _text_lines(text):
            blank = blank and not line.strip()
    if blank:
        raise FileRejected("the file is empty")
    return _ndjson_lines(data)


def _ndjson_lines(data: Data) -> Iterator[tuple[int, Any]]:
    with open_text(data) as text:
        for number, line in enumerate(_text_lines(text), start=1):
            if not line.strip():
                continue
            try:
                yield number, DECODER.decode(line)
            except (ValueError, RecursionError) as exc:
                yield number, RowRejected(f"invalid JSON: {exc}")


def _numbered_rows(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield (line the record starts on, its fields); a broken quote rejects the file."""
    reader = csv.reader(_text_lines(text), strict=True)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileRejected(f"malformed CSV in the record starting here: {exc}", start) from None


def _check_csv_structure(data: Data) -> None:
    """Read the whole file once so a broken quote rejects it before anything is written."""
    content = False
    with open_text(data) as text:
        for _, row in _numbered_rows(text):
            content = content or any(field.strip() for field in row)
    _refuse_if_empty(content)


def _refuse_if_empty(content: bool) -> None:
    if not content:
        raise FileRejected("the file is empty; a header row is required")


def csv_records(data: Data, columns: tuple[str, ...], *,
                extra_allowed: bool = False) -> Iterator[tuple[int, Any]]:
    """Return (line, row dict) pairs from a CSV whose header names exactly the given columns.

    With extra_allowed (a vendor export read through a profile), the header must hold
    the columns and may hold others, which are ignored.

    The file's structure is checked before this returns: a file of up to HELD_BYTES is
    read once and its rows held, a larger one is read again, one row at a time. A row
    with the wrong number of fields gives a RowRejected in place of its dict.
    """
    csv.field_size_limit(MAX_CSV_FIELD)
    if _size(data) <= HELD_BYTES:
        with open_text(data) as text:
            rows = list(_numbered_rows(text))
        _refuse_if_empty(any(any(field.strip() for field in row) for _, row in rows))
        header = [name.strip() for name in rows[0][1]]
        _check_header(header, columns, extra_allowed)
        return _row_dicts(iter(rows[1:]), header)
    _check_csv_structure(data)
    with open_text(data) as text:
        header = [name.strip() for name in next(_numbered_rows(text))[1]]
    _check_header(header, columns, extra_allowed)
    return _csv_rows(data, header)


def _csv_rows(data: Data, header: list[str]) -> Iterator[tuple[int, Any]]:
    with open_text(data) as text:
        rows = _numbered_rows(text)
        next(rows)
        yield from _row_dicts(rows, header)


def _row_dicts(rows: Iterator[tuple[int, list[str]]],
               header: list[str]) -> Iterator[tuple[int, Any]]:
    """Yield (line, row dict) for each record after the header; blank lines are skipped."""
    width = len(header)
    for line, row in rows:
        if len(row) != width:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield line, RowRejected(f"expected {width} fields, found {len(row)}")
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
