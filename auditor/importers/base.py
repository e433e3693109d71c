"""What every importer shares: the parse context, a parsed record, and a format's description."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from auditor.domain.errors import InvalidInput, RowRejected
from auditor.domain.events import Event
from auditor.domain.license import License


@dataclass(frozen=True)
class ParseContext:
    """What a parser needs beyond the record: the license (for its zone) and import facts."""

    license: License
    imported_at: datetime
    effective_at: datetime | None = None  # when an adjust-reason list took effect
    reference: str | None = None  # digest that ties the records of one list together

    @property
    def zone(self) -> ZoneInfo:
        """Return the license's zone, used for METRC's zone-less local times."""
        return self.license.zone()


@dataclass(frozen=True, slots=True)
class Parsed:
    """One source record: the events it became, or the reason it was rejected."""

    line: int
    events: tuple[Event, ...] = ()
    reason: str | None = None
    ignored_fields: frozenset[str] = frozenset()


_NONE: frozenset[str] = frozenset()
RecordReader = Callable[[bytes | Path], Iterable[tuple[int, Any]]]
RecordParser = Callable[[Mapping[str, Any], ParseContext], list[Event]]


@dataclass(frozen=True)
class Format:
    """A source format: how to split a file into records and turn a record into events.

    `known_fields` lists the top-level fields the source may carry. With `strict`, any
    other field rejects the record; otherwise it is ignored and reported in the summary
    (METRC adds fields between API versions, and that must not stop an import).
    """

    name: str
    description: str
    read: RecordReader
    parse: RecordParser
    known_fields: frozenset[str] = field(default_factory=frozenset)
    strict: bool = False


def parse_records(fmt: Format, records: Iterable[tuple[int, Any]],
                  ctx: ParseContext) -> Iterator[Parsed]:
    """Parse each (line, record) pair, turning every record-level problem into a rejection."""
    for line, record in records:
        if isinstance(record, RowRejected):
            yield Parsed(line, reason=str(record))
            continue
        if not isinstance(record, dict):
            yield Parsed(line, reason=f"expected an object, got {type(record).__name__}")
            continue
        # A subset test allocates nothing; the difference is worked out only when it fails.
        unknown = (frozenset(record) - fmt.known_fields
                   if fmt.known_fields and not record.keys() <= fmt.known_fields
                   else _NONE)
        if unknown and fmt.strict:
            yield Parsed(line, reason=f"unknown fields: {', '.join(sorted(unknown))}")
            continue
        try:
            events = tuple(fmt.parse(record, ctx))
        except InvalidInput as exc:
            yield Parsed(line, reason=str(exc))
            continue
        yield Parsed(line, events=events, ignored_fields=unknown)
