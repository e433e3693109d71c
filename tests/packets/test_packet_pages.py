"""The PDF packet's condensed logs, column widths and findings, on hand-made tables."""

from auditor.services.packet_pages import column_widths, day_grid, pdf_log
from auditor.services.packet_view import pdf_finding
from auditor.services.tables import Column, Table

ZONE = "America/Los_Angeles"


def _sales_day(day: str, late: int = 0, only_pos: int = 0) -> list:
    return [day, 10, 10 - only_pos, 10 - late - only_pos, late, 0, only_pos, 0]


SALES_COLUMNS = [Column(n, k) for n, k in (
    ("date", "date"), ("POS lines", "int"), ("METRC lines", "int"), ("matched in time", "int"),
    ("late", "int"), ("quantity mismatches", "int"), ("POS only", "int"), ("METRC only", "int"))]


def test_the_daily_sales_log_lists_the_days_with_a_disagreement_and_every_day_in_the_grid():
    rows = [_sales_day("2026-01-01"), _sales_day("2026-01-02", late=1),
            _sales_day("2026-01-31"), _sales_day("2026-02-03", only_pos=2)]
    log = pdf_log(Table("sales_daily", "POS-to-METRC sales by day", SALES_COLUMNS, rows))
    assert [row[0] for row in log["table"].rows] == ["2026-01-02", "2026-02-03"]
    assert log["total"] == 4 and log["undated"] == [0, 0]
    january, february = log["days"]
    assert january["month"] == "2026-01" and (january["rows"], january["exceptions"]) == (3, 1)
    assert january["cells"][0] == (1, 0) and january["cells"][1] == (1, 1)
    assert january["cells"][30] == (1, 0) and january["cells"][2] is None
    assert february["cells"][2] == (1, 1) and (february["rows"], february["exceptions"]) == (1, 1)
    whole = pdf_log(Table("sales_daily", "POS-to-METRC sales by day", SALES_COLUMNS, rows),
                    full=True)
    assert whole["days"] is None and len(whole["table"].rows) == 4


def test_rows_without_a_time_are_counted_apart_not_dropped():
    grid = day_grid({"2026-03-05": [4, 1], "": [2, 2]})
    assert [(m["month"], m["rows"], m["exceptions"]) for m in grid] == [("2026-03", 4, 1)]
    columns = [Column("moved at", "datetime"), Column("status")]
    log = pdf_log(Table("locations", "Moves", columns, [
        [None, "no METRC change"], ["2026-03-05T10:00:00-08:00", "recorded before the move"]]))
    assert log["undated"] == [1, 1] and len(log["table"].rows) == 1


COVERAGE_COLUMNS = [Column(n, k) for n, k in (
    ("count", "text"), ("started at", "datetime"), ("ended at", "datetime"),
    ("on hand in METRC at the start", "int"), ("counted", "int"),
    ("sold during the count", "int"), ("not counted", "int"), ("full by coverage", "text"),
    ("packages not counted", "text"))]


def test_near_full_counts_are_listed_with_their_untold_tags_and_partial_ones_counted_per_day():
    t0, t1 = "2026-01-01T21:30:00-08:00", "2026-01-02T21:30:00-08:00"
    rows = [["FULL-1", t0, t0, 60, 58, 0, 2, "no", "TAG-A, TAG-B"],
            ["CYC-FLOWER", t0, t0, 60, 9, 0, 51, "no", "TAG-C, TAG-D and 31 more"],
            ["FULL-2", t1, t1, 60, 60, 0, 0, "yes", None],
            ["CYC-EDIBLE", t1, t1, 60, 5, 0, 55, "no", "TAG-E and 54 more"]]
    table = Table("full_counts", "Counts by coverage", COVERAGE_COLUMNS, rows)
    log = pdf_log(table)
    assert log["table"].rows == [rows[0], rows[2]]  # every figure and tag of those kept
    assert log["total"] == 4 and log["listed"] == "near-full count"
    assert log["days"][0]["cells"][:3] == [(2, 1), (2, 1), None]
    assert log["note"] and "rows per day" in log["note"]
    assert pdf_log(table, full=True)["table"].rows == rows


def test_column_widths_follow_the_content_and_fill_the_table():
    table = Table("x", "x", [Column("note"), Column("at", "datetime"), Column("n", "int")],
                  [["a long note that says a great deal " * 2, None, 1]] * 5)
    widths = column_widths(table)
    assert abs(sum(widths) - 100) < 0.1
    assert widths[0] > widths[1] > widths[2]
    empty = column_widths(Table("y", "y", [Column("a very longheadingword"), Column("b")], []))
    assert empty[0] > empty[1]  # a heading's longest word still fits


def _finding(**changes) -> dict:
    finding = {"rule_id": "adjustment-reason-valid", "rule_version": 1, "severity": "high",
               "package_label": "1A4PAAWE0CYZ000001026601", "subject": "1A4PAAWE0CYZ000001026601",
               "occurred_at": "2026-01-03T16:10:00+00:00",
               "message": "Adjustment of package 1A4PAAWE0CYZ000001026601 at 2026-01-03 08:10 PST "
                          "gives reason 'Damaged', which is not in the METRC reason list.",
               "evidence": [1206, 1207],
               "fields": {"adjusted_at": "2026-01-03T16:10:00+00:00", "adjusted_by": "Lena Park",
                          "label": "1A4PAAWE0CYZ000001026601", "note": "", "quantity": -1.0,
                          "reason": "Damaged", "reason_code": "Dam", "unit": "Each"}}
    return {**finding, **changes}


def test_a_finding_in_the_pdf_keeps_every_fact_its_explanation_does_not_state():
    shown = pdf_finding(_finding(), ZONE)
    assert shown["evidence"] == "1206, 1207" and shown["subject"] is None
    # the tag, the local time and the reason are in the explanation; the rest is printed
    assert shown["fields"] == [("adjusted_by", "Lena Park"), ("note", ""), ("quantity", -1.0),
                               ("reason_code", "Dam"), ("unit", "Each")]
    other = pdf_finding(_finding(subject="R260103-0004", message="A sale was reported late."),
                        ZONE)
    assert other["subject"] == "R260103-0004"
    assert [k for k, _ in other["fields"]] == ["adjusted_at", "adjusted_by", "label", "note",
                                               "quantity", "reason", "reason_code", "unit"]


def test_a_value_found_only_inside_a_longer_word_is_still_printed():
    shown = pdf_finding(_finding(message="Moved to Vaulted Storage.",
                                 fields={"to_location": "Vault", "from": "Storage"}), ZONE)
    assert shown["fields"] == [("to_location", "Vault")]


def test_counts_read_in_the_number_their_noun_needs():
    from auditor.packets.templating import counted

    assert counted(1, "exception") == "1 exception"
    assert (counted(0, "row"), counted(2, "near-full count")) == ("0 rows", "2 near-full counts")
