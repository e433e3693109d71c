"""Read a vendor export through a profile: rename its columns, then parse it as our format.

Times without an offset are read in the license's zone (a DST gap or repeated hour is
refused with the row), voids and returns are read from the profile's flag columns, and
a return written with a positive quantity is stored negative, as our pos-sales expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from auditor.domain.errors import InvalidInput, RowRejected
from auditor.domain.events import Event
from auditor.importers import fields as f
from auditor.importers.base import Format, ParseContext
from auditor.importers.profile import Profile
from auditor.importers.sources import csv_records
from auditor.importers.store_csv import COLUMNS, NUMBER_FIELDS, TIME_FIELDS

_MONEY_MARKS = str.maketrans("", "", "$,")


def profiled_format(base: Format, profile: Profile) -> Format:
    """Return base read through the profile: the export's columns in, our events out."""
    if profile.format != base.name:
        raise InvalidInput(f"{profile.origin}: format: the profile is for {profile.format!r}, "
                           f"not {base.name!r}")
    if base.name not in COLUMNS:
        raise InvalidInput(f"{profile.origin}: format: profiles apply to the CSV formats "
                           f"({', '.join(sorted(COLUMNS))}), not {base.name!r}")
    ours = COLUMNS[base.name]
    for key in (*profile.columns, *profile.defaults, *profile.values):
        if key not in ours:
            raise InvalidInput(f"{profile.origin}: {key}: not a field of {base.name} "
                               f"({', '.join(ours)})")
    reader = _Translator(base, profile)
    return Format(base.name, f"{base.description} via profile {profile.name}",
                  partial(csv_records, columns=profile.export_columns(), extra_allowed=True),
                  reader.parse)


class _Translator:
    """Turn one export row into our row; remembers the transaction to number its lines."""

    def __init__(self, base: Format, profile: Profile) -> None:
        self.base = base
        self.profile = profile
        self.time_field = TIME_FIELDS[base.name]
        self.numbers_lines = base.name == "pos-sales" and "line_id" not in profile.columns
        self._receipt: str | None = None
        self._seen: dict[str, int] = {}

    def parse(self, row: Mapping[str, Any], ctx: ParseContext) -> list[Event]:
        """Parse one export row as the base format would parse our own row."""
        return self.base.parse(self.translate(row, ctx), ctx)

    def translate(self, row: Mapping[str, Any], ctx: ParseContext) -> dict[str, Any]:
        """Return the row under our field names, with values written our way."""
        p = self.profile
        out: dict[str, Any] = {ours: row.get(theirs, "") for ours, theirs in p.columns.items()}
        for name, value in p.defaults.items():
            if not str(out.get(name) or "").strip():
                out[name] = value
        for name, table in p.values.items():
            text = str(out.get(name) or "").strip()
            out[name] = table.get(text.lower(), text)
        if p.units and out.get("unit"):
            out["unit"] = p.units.get(str(out["unit"]).strip().lower(), out["unit"])
        for name in NUMBER_FIELDS & out.keys():
            out[name] = str(out[name]).translate(_MONEY_MARKS)
        out[self.time_field] = self._time(out.get(self.time_field), ctx)
        self._flags(row, out)
        if self.numbers_lines:
            out["line_id"] = self._line_id(out)
        return out

    def _time(self, value: Any, ctx: ParseContext) -> str:
        """Return the export's time as ISO 8601 with its UTC offset."""
        text = str(value or "").strip()
        if not text:
            return ""
        parsed = _parse_time(text, self.profile.time_formats, self.time_field)
        if parsed.tzinfo is None:
            parsed = f.in_zone(parsed, ctx.zone, self.time_field, text)
        return parsed.astimezone(UTC).isoformat()

    def _flags(self, row: Mapping[str, Any], out: dict[str, Any]) -> None:
        p = self.profile
        if p.void is not None:
            out["voided"] = "true" if p.void.is_set(dict(row)) else "false"
        if p.returns is not None and p.returns.is_set(dict(row)):
            quantity = str(out.get("quantity") or "").strip()
            if p.return_quantity_sign == "positive" and quantity and not quantity.startswith("-"):
                out["quantity"] = f"-{quantity}"

    def _line_id(self, out: dict[str, Any]) -> str:
        """Number a transaction's lines per package, as exports list them together.

        The export carries no line id, so a line is known by its package and how many
        lines of the same package came before it in the same transaction.
        """
        receipt = str(out.get("receipt_id") or "").strip()
        if receipt != self._receipt:
            self._receipt, self._seen = receipt, {}
        label = str(out.get("package_label") or "").strip()
        self._seen[label] = self._seen.get(label, 0) + 1
        return f"{label}#{self._seen[label]}"


def _parse_time(text: str, formats: tuple[str, ...], name: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    expected = ", ".join(["ISO 8601", *formats])
    raise RowRejected(f"{name} {text!r} matches none of the profile's time formats ({expected})")
