"""A table as the renderers receive it: named, typed columns and JSON-safe rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "int", "number", "datetime", "date"]


@dataclass(frozen=True)
class Column:
    """One column: its heading and the kind of value it holds (text, int, number, date...)."""

    name: str
    kind: Kind = "text"
    width: int | None = None  # Excel width in characters; None: from the content


@dataclass(frozen=True)
class Table:
    """A titled table; datetimes in rows are ISO 8601 text with the license's offset."""

    key: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    zone: str | None = None  # the license's zone: people read times in it (not in the JSON)

    def as_json(self) -> dict[str, Any]:
        """Return the table as canonical, JSON-safe content."""
        return {"key": self.key, "title": self.title,
                "columns": [[c.name, c.kind] for c in self.columns],
                "rows": [list(r) for r in self.rows]}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Table:
        """Rebuild a table from its canonical content."""
        return cls(value["key"], value["title"],
                   [Column(name, kind) for name, kind in value["columns"]],
                   [list(r) for r in value["rows"]])
