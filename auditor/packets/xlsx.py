"""Tables to an Excel workbook through openpyxl, in write-only mode, formula-safe.

openpyxl writes any string starting with `=` as a live formula, and spreadsheet
programs treat `+ - @`, tab and carriage return the same way on import. Every text
cell is therefore written with the string type forced and, when it starts with one of
those characters, with `quotePrefix` set so Excel shows it as typed and never runs it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from auditor.services.tables import Column, Table

RISKY_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "number": "#,##0.000",
           "int": "0"}
MAX_WIDTH = 60
MAX_SHEET_TITLE = 31
BAD_TITLE_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def write_workbook(tables: Iterable[Table]) -> bytes:
    """Return an .xlsx holding one sheet per table: frozen header, filter, typed cells."""
    book = Workbook(write_only=True)
    titles: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_unique_title(table.title, titles))
        _write_sheet(sheet, table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write_sheet(sheet: WriteOnlyWorksheet, table: Table) -> None:
    # Write-only sheets take widths, panes and filters before the first row.
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _width(column, table.rows,
                                                                         index - 1)
    sheet.freeze_panes = "A2"
    last = get_column_letter(max(1, len(table.columns)))
    sheet.auto_filter.ref = f"A1:{last}{len(table.rows) + 1}"
    bold = Font(bold=True)
    sheet.append([_text_cell(sheet, c.name, bold) for c in table.columns])
    zone = ZoneInfo(table.zone) if table.zone else None
    for row in table.rows:
        sheet.append([_cell(sheet, value, column, zone)
                      for value, column in zip(row, table.columns, strict=True)])


def _cell(sheet: WriteOnlyWorksheet, value: Any, column: Column,
          zone: ZoneInfo | None = None) -> Any:
    if value is None:
        return None
    number_format = FORMATS.get(column.kind, "General")
    if column.kind in ("int", "number") and isinstance(value, int | float) \
            and not isinstance(value, bool):
        cell = WriteOnlyCell(sheet, value=value)
        if column.kind == "number" and float(value).is_integer():
            number_format = "#,##0"  # a count of whole items reads 39, not 39.000
    elif column.kind in ("datetime", "date") and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if column.kind == "date":
            cell = WriteOnlyCell(sheet, value=moment.date())
        else:
            # Excel has no time zones: the license's local wall time, its zone's
            # abbreviation (PST, PDT) written beside it by the cell's format.
            if zone is not None and moment.tzinfo is not None:
                moment = moment.astimezone(zone)
                number_format += f' "{moment.strftime("%Z")}"'
            cell = WriteOnlyCell(sheet, value=moment.replace(tzinfo=None))
    else:
        return _text_cell(sheet, str(value))
    cell.number_format = number_format
    return cell


def _text_cell(sheet: WriteOnlyWorksheet, value: str, font: Font | None = None) -> WriteOnlyCell:
    # Control characters XML cannot hold would make openpyxl refuse the whole workbook.
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    cell.data_type = "s"  # never a formula, whatever it starts with
    if value.startswith(RISKY_STARTS):
        cell.quotePrefix = True
    if font is not None:
        cell.font = font
    return cell


def _width(column: Column, rows: Sequence[Sequence[Any]], index: int) -> int:
    if column.width:
        return column.width
    if column.kind == "datetime":
        return 17
    sample = rows[:500]  # widths from the first rows: enough to judge, cheap on big sheets
    longest = max([len(column.name)] + [len(str(r[index])) for r in sample if r[index] is not None])
    return min(MAX_WIDTH, longest + 2)


def _unique_title(title: str, taken: set[str]) -> str:
    """Return a sheet title Excel accepts (31 characters, cut between words) not yet taken."""
    base = title.translate(BAD_TITLE_CHARS).strip("' ") or "Sheet"
    candidate, n = _cut(base, MAX_SHEET_TITLE), 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = _cut(base, MAX_SHEET_TITLE - len(suffix)) + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def _cut(text: str, limit: int) -> str:
    """Return text within limit characters, cut at the last word boundary that fits."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1]
    boundary = max(cut.rfind(" "), cut.rfind("-"))
    # A word longer than half the room is cut mid-word: better than a stub of a title.
    return (cut[:boundary] if boundary > limit // 2 else text[:limit]).rstrip(" -")
