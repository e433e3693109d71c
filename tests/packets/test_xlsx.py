import io
from datetime import datetime

import openpyxl
import pytest

from auditor.packets.xlsx import write_workbook
from auditor.services.tables import Column, Table

PAYLOADS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
            "=cmd|' /C calc'!A0", "<b>html</b>", "plain"]


def _reopen(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.mark.reliability
def test_text_cells_are_strings_and_risky_ones_get_a_quote_prefix(figure) -> None:
    table = Table("t", "Notes", [Column("note")], [[p] for p in PAYLOADS])
    sheet = _reopen(write_workbook([table]))["Notes"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    figure("packets: live formulas", sum(c.data_type == "f" for c in cells), of=len(cells),
           document="formula payloads")
    # XML reads a stored carriage return back as a line feed; the text is otherwise intact.
    assert [c.value for c in cells] == [p.replace("\r", "\n") for p in PAYLOADS]
    assert all(c.data_type == "s" for c in cells)
    assert [c.quotePrefix for c in cells] == [p[0] in "=+-@\t\r" for p in PAYLOADS]


def test_numbers_and_times_are_typed_and_the_header_frozen_and_filtered() -> None:
    table = Table("t", "Counts", [Column("at", "datetime"), Column("qty", "number"),
                                  Column("n", "int"), Column("day", "date")],
                  [["2026-01-05T10:30:00-08:00", 2.5, 3, "2026-01-05"]])
    sheet = _reopen(write_workbook([table]))["Counts"]
    at, qty, n, day = next(sheet.iter_rows(min_row=2))
    assert at.value == datetime(2026, 1, 5, 10, 30) and at.number_format == "yyyy-mm-dd hh:mm"
    assert (qty.value, qty.data_type, n.value) == (2.5, "n", 3)
    assert day.value == datetime(2026, 1, 5)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:D2"
    assert sheet.column_dimensions["A"].width == 17


@pytest.mark.parametrize("title", ["a/b:c*d?[e]", "x" * 40])
def test_sheet_titles_are_made_legal_and_unique(title: str) -> None:
    tables = [Table("a", title, [Column("x")], []), Table("b", title, [Column("x")], [])]
    names = _reopen(write_workbook(tables)).sheetnames
    assert len(set(names)) == 2 and all(len(n) <= 31 for n in names)


def test_control_characters_xml_cannot_hold_are_replaced_not_fatal() -> None:
    table = Table("t", "N", [Column("note")], [["a\x00b\x07c"]])
    sheet = _reopen(write_workbook([table]))["N"]
    assert sheet["A2"].value == "a\ufffdb\ufffdc"
