"""How the PDF packet lays out its logs: condensed rows, column widths, day grids.

WeasyPrint's time grows with the lines and boxes it lays out and paints, and a table in
the automatic layout is measured cell by cell before it is placed. The PDF's tables are
therefore in the fixed layout with the widths worked out here from their content; a
log's rows per day are a month-by-day grid (a dozen rows for a year, not 365).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from auditor.services.tables import Table

# A column's weight is about the characters of its usual value. A table line holds about
# LINE characters at the table font; past that, the columns of words (names, notes) give
# up room first, so that tags, ids and times stay on one line.
LINE = 150
KIND_WEIGHTS = {"datetime": 22, "date": 11, "int": 7, "number": 8}
MAX_TEXT_WEIGHT = 90
SAMPLE_ROWS = 300


# For the logs whose rows mostly agree: which column holds the row's time (its day), which
# rows the condensed PDF lists, and what it calls them; it also shows the rows per day.
EXCEPTIONS = {
    "locations": (0, lambda row: row[-1] != "recorded before the move", "exception"),
    "counts": (0, lambda row: row[8] is None or abs(row[8]) > 1e-6, "exception"),
    "manifests": (4, lambda row: row[-1] != "yes", "exception"),
    # days on which a line was late, mismatched, or on one side only
    "sales_daily": (0, lambda row: any(row[4:8]), "exception"),
    # A count that counted under half of METRC's on-hand was one category or location,
    # not a full count: it is counted in its day, and the near-full ones are listed with
    # the tags they did not count (what a reconciliation is judged on).
    "full_counts": (1, lambda row: row[7] == "yes" or 2 * row[4] >= row[3],
                    "near-full count"),
}
NOTES = {
    "full_counts": "a near-full count is a full count by coverage or one that counted at "
                   "least half of METRC's on-hand; the partial counts (a category, a "
                   "location) are in the rows per day",
}


def pdf_log(table: Table, full: bool = False) -> dict[str, Any]:
    """Return a log as the PDF shows it: whole, or condensed (the default).

    Condensed, a log of mostly agreeing rows lists its exceptions (`listed` names them)
    and shows its rows per day as a month-by-day grid (`days`; `undated` counts the rows
    without a time); `note` says what the listed rows are where it is not plain.
    `widths` are the printed columns' widths in percent.
    """
    if not full and table.key in EXCEPTIONS:
        return _exceptions(table, *EXCEPTIONS[table.key])
    return {"table": table, "total": len(table.rows), "days": None, "note": None,
            "widths": column_widths(table)}


def _exceptions(table: Table, when: int, exceptional: Any, listed: str) -> dict[str, Any]:
    days: dict[str, list[int]] = {}
    kept = []
    for row in table.rows:
        counts = days.setdefault(str(row[when] or "")[:10], [0, 0])
        counts[0] += 1
        if exceptional(row):
            counts[1] += 1
            kept.append(row)
    shown = replace(table, rows=kept)
    return {"table": shown, "total": len(table.rows), "days": day_grid(days),
            "undated": days.get("", [0, 0]), "listed": listed,
            "note": NOTES.get(table.key), "widths": column_widths(shown)}


def column_widths(table: Table) -> list[float]:
    """Return each column's share of the table width, in percent, from kind and content.

    A text column is as wide as nine in ten of its values (the first rows sampled), so a
    long note wraps rather than widening every row; a heading's longest word is given room.
    """
    sample = table.rows[:SAMPLE_ROWS]
    weights: list[float] = []
    least: list[int] = []
    words: list[bool] = []
    for index, column in enumerate(table.columns):
        heading = max((len(word) for word in column.name.split()), default=0) + 2  # bold, padded
        values = [str(row[index]) for row in sample if row[index] not in (None, "")]
        lengths = sorted(map(len, values))
        usual = lengths[len(lengths) * 9 // 10] + 3 if lengths else 0  # + the padding
        weight = max(KIND_WEIGHTS[column.kind], heading) if column.kind in KIND_WEIGHTS \
            else min(MAX_TEXT_WEIGHT, max(heading, usual))
        weights.append(weight)
        least.append(heading)
        words.append(column.kind == "text" and sum(" " in v for v in values) * 2 > len(values))
    excess = sum(weights) - LINE
    flexible = sum(w - m for w, m, wraps in zip(weights, least, words, strict=True) if wraps)
    if excess > 0 and flexible > 0:
        keep = max(0.0, 1 - excess / flexible)  # the share of their spare room kept
        weights = [m + (w - m) * keep if wraps else w
                   for w, m, wraps in zip(weights, least, words, strict=True)]
    total = sum(weights) or 1
    return [round(100 * weight / total, 2) for weight in weights]


def day_grid(days: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Return per-day [rows, exceptions] as months of 31 day cells (None: no rows that day).

    `days` maps an ISO date (YYYY-MM-DD) to its counts; each month carries its totals.
    """
    months: dict[str, dict[str, Any]] = {}
    for day, (rows, exceptions) in sorted(days.items()):
        if len(day) != 10:  # a row without a time has no day to sit in
            continue
        month = months.setdefault(day[:7], {"month": day[:7], "cells": [None] * 31,
                                            "rows": 0, "exceptions": 0})
        month["cells"][int(day[8:]) - 1] = (rows, exceptions)
        month["rows"] += rows
        month["exceptions"] += exceptions
    return list(months.values())
