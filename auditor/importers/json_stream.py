"""Stream the records of a JSON file (bare array, METRC `Data` envelope, or one object).

The file is read in chunks and each record decoded on its own by the standard library's
C decoder, so memory holds one chunk and one record whatever the file's size, and every
record keeps the line it starts on. A record that cannot be complete within
MAX_RECORD_CHARS is refused rather than buffered without end.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import IO, Any

from auditor.domain.errors import FileRejected

CHUNK_CHARS = 1 << 20
MAX_RECORD_CHARS = 64 << 20
_WS = " \t\r\n"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(literal: str) -> float:
    """Parse a JSON number, refusing one too large for a float (1e999 would become inf)."""
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is too large for a number")
    return value


DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


class _Reader:
    """A window on the text: what is not yet consumed, and the line where pos stands."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.eof = False
        self._line = 1      # line number at self._mark
        self._mark = 0

    def line(self) -> int:
        """Return the line number at pos."""
        self._line += self.text.count("\n", self._mark, self.pos)
        self._mark = self.pos
        return self._line

    def fill(self) -> bool:
        """Read another chunk, dropping what was consumed; say whether anything came."""
        if self.eof:
            return False
        self.line()
        chunk = self.stream.read(CHUNK_CHARS)
        self.text = self.text[self.pos:] + chunk
        self.pos = self._mark = 0
        self.eof = not chunk
        return bool(chunk)

    def peek(self) -> str:
        """Skip whitespace and return the next character ('' at the end of the file)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""

    def expect(self, char: str) -> None:
        """Consume char after any whitespace, or refuse the file."""
        found = self.peek()
        if found != char:
            what = repr(found) if found else "the end of the file"
            raise FileRejected(f"invalid JSON: expected {char!r}, found {what}", self.line())
        self.pos += 1

    def value(self) -> tuple[int, Any]:
        """Decode the value that starts here and return (its line, the value)."""
        self.peek()
        line = self.line()
        while True:
            try:
                value, end = DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self._maybe_cut(exc) and self._more():
                    continue
                raise FileRejected(f"invalid JSON: {exc.msg}",
                                   line + self.text.count("\n", self.pos, exc.pos)) from None
            except ValueError as exc:
                raise FileRejected(f"invalid JSON: {exc}", line) from None
            except RecursionError:
                raise FileRejected("invalid JSON: nested too deeply", line) from None
            if end == len(self.text) and self._more():
                continue  # a number at the end of the window may go on in the next chunk
            self.pos = end
            return line, value

    def _maybe_cut(self, exc: json.JSONDecodeError) -> bool:
        """Say whether the error may come from the window ending inside the value.

        A cut shows as an error within a few characters of the window's end (a literal
        or number cut short) or as a string that never ends; anything earlier is a real
        error, refused without reading on.
        """
        return exc.pos >= len(self.text) - 8 or exc.msg.startswith("Unterminated string")

    def _more(self) -> bool:
        """Read another chunk for the value in hand; refuse one past the cap."""
        if len(self.text) - self.pos > MAX_RECORD_CHARS:
            raise FileRejected(f"a record is larger than {MAX_RECORD_CHARS >> 20} MB",
                               self.line())
        return self.fill()


def json_stream(stream: IO[str]) -> Iterator[tuple[int, Any]]:
    """Yield (line, record) pairs; a structural problem raises FileRejected where it is met."""
    reader = _Reader(stream)
    first = reader.peek()
    if first == "":
        raise FileRejected("the file is empty")
    if first == "[":
        reader.pos += 1
        yield from _array(reader)
    elif first == "{":
        yield from _object(reader)
    else:
        raise FileRejected("expected a JSON array, a METRC {\"Data\": [...]} envelope or an "
                           "object", reader.line())
    if reader.peek() != "":
        raise FileRejected("invalid JSON: extra data after the document", reader.line())


def _array(reader: _Reader) -> Iterator[tuple[int, Any]]:
    """Yield the elements of the array whose '[' was just consumed, then consume its ']'."""
    if reader.peek() == "]":
        reader.pos += 1
        return
    while True:
        yield reader.value()
        if reader.peek() == ",":
            reader.pos += 1
            continue
        reader.expect("]")
        return


def _object(reader: _Reader) -> Iterator[tuple[int, Any]]:
    """Yield the records of an envelope's `Data`, or the object itself when it has none."""
    start = reader.line()
    reader.expect("{")
    fields: dict[str, Any] = {}
    envelope = False
    pairs = 0
    while reader.peek() != "}":
        if pairs:
            reader.expect(",")
        pairs += 1
        _, key = reader.value()
        if not isinstance(key, str):
            raise FileRejected("invalid JSON: an object key must be a string", reader.line())
        reader.expect(":")
        if key == "Data" and reader.peek() == "[":
            reader.pos += 1
            envelope = True
            yield from _array(reader)
        else:
            fields[key] = reader.value()[1]
    reader.pos += 1
    if "Data" in fields:
        raise FileRejected("the envelope's Data must be a list")
    if not envelope:
        yield start, fields
