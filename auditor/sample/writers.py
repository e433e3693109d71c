"""Buffer records per day and write them in the file formats the importers read."""

from __future__ import annotations

import csv
import json
from operator import itemgetter
from pathlib import Path

ENVELOPE = "envelope"
ARRAY = "array"
CSV = "csv"

# Import order inside a day folder, with each format's shape.
DAY_FORMATS = (
    ("metrc-transfers", ENVELOPE),
    ("receiving-scans", CSV),
    ("metrc-packages", ENVELOPE),
    ("metrc-location-changes", ARRAY),
    ("moves", CSV),
    ("pos-sales", CSV),
    ("metrc-receipts", ENVELOPE),
    ("metrc-adjustments", ENVELOPE),
    ("counts", CSV),
    ("notifications", CSV),
    ("metrc-finished-packages", ARRAY),
)
REASONS_FORMAT = "metrc-adjust-reasons"
CSV_HEADERS = {
    "pos-sales": ("receipt_id", "line_id", "sold_at", "package_label", "sku", "product_name",
                  "category", "quantity", "unit", "unit_price", "total_price", "customer_type",
                  "customer_id", "employee", "voided"),
    "receiving-scans": ("scanned_at", "manifest_number", "package_label", "quantity", "unit",
                        "employee"),
    "moves": ("moved_at", "package_label", "from_location", "to_location", "quantity", "unit",
              "employee"),
    "counts": ("counted_at", "count_id", "location", "package_label", "counted_quantity", "unit",
               "employee"),
    "notifications": ("sent_at", "kind", "recipient", "reference", "package_label", "employee"),
}
# How the importer turns one record of a format into events.
EVENT_OF = {
    "metrc-packages": "package_snapshot",
    "metrc-adjustments": "adjustment",
    REASONS_FORMAT: "adjust_reason",
    "metrc-receipts": "metrc_receipt",
    "metrc-transfers": "manifest",
    "metrc-location-changes": "location_change",
    "metrc-finished-packages": "package_finished",
    "pos-sales": "pos_sale_line",
    "receiving-scans": "receiving_scan",
    "moves": "move",
    "counts": "count_line",
    "notifications": "notification",
}
_NESTED = {"metrc-receipts": ("Transactions", "metrc_sale_line"),
           "metrc-transfers": ("Packages", "manifest_package")}
_SHAPE = dict(DAY_FORMATS)


def qty_text(qty_c: int) -> str:
    """Return a centi quantity as a plain decimal: 350 -> '3.5', 200 -> '2'."""
    if qty_c % 100 == 0:
        return str(qty_c // 100)
    return repr(qty_c / 100)


def envelope(rows: list) -> dict:
    """Wrap rows in METRC's v2 list envelope."""
    n = len(rows)
    return {"Data": rows, "Total": n, "TotalRecords": n, "PageSize": n, "RecordsOnPage": n,
            "Page": 1, "CurrentPage": 1, "TotalPages": 1}


def write_json(path: Path, data: object) -> None:
    """Write compact JSON, byte for byte the same for the same data."""
    path.write_bytes(json.dumps(data, separators=(",", ":")).encode("utf-8"))


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


class Outbox:
    """Hold each day's records until the day is over, then write that day's files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._days: dict[int, dict[str, list]] = {}
        self._flushed = -1
        self.files: list[dict] = []
        self.record_counts = {name: 0 for name in (REASONS_FORMAT, *_SHAPE)}
        self.event_counts = {event: 0 for event in EVENT_OF.values()}
        for _, event in _NESTED.values():
            self.event_counts[event] = 0

    def add(self, fmt: str, t: int, row: object) -> None:
        """Queue a record in the folder of the local day of t."""
        day = t // 86_400
        if day <= self._flushed:
            raise RuntimeError(f"{fmt} record for day {day} after that day was written")
        buckets = self._days.get(day)
        if buckets is None:
            buckets = self._days[day] = {}
        rows = buckets.get(fmt)
        if rows is None:
            rows = buckets[fmt] = []
        rows.append((t, row))

    def write_reasons(self, reasons: list[dict]) -> None:
        """Write the license's adjustment reason list under reference/."""
        folder = self.root / "reference"
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / f"{REASONS_FORMAT}.json", envelope(reasons))
        self._count(REASONS_FORMAT, reasons)
        self.files.append({"path": f"reference/{REASONS_FORMAT}.json", "format": REASONS_FORMAT})

    def flush(self, day: int, date_iso: str) -> None:
        """Write every queued record of a day, one file per format that has rows."""
        buckets = self._days.pop(day, {})
        self._flushed = day
        if not buckets:
            return
        folder = self.root / "days" / date_iso
        folder.mkdir(parents=True, exist_ok=True)
        for fmt, shape in DAY_FORMATS:
            timed = buckets.get(fmt)
            if not timed:
                continue
            timed.sort(key=itemgetter(0))
            rows = [row for _, row in timed]
            name = f"{fmt}.csv" if shape == CSV else f"{fmt}.json"
            if shape == CSV:
                _write_csv(folder / name, CSV_HEADERS[fmt], rows)
            else:
                write_json(folder / name, envelope(rows) if shape == ENVELOPE else rows)
            self._count(fmt, rows)
            self.files.append({"path": f"days/{date_iso}/{name}", "format": fmt})

    def leftover_days(self) -> list[int]:
        """Return days that still hold unwritten records."""
        return sorted(self._days)

    def _count(self, fmt: str, rows: list) -> None:
        self.record_counts[fmt] += len(rows)
        self.event_counts[EVENT_OF[fmt]] += len(rows)
        nested = _NESTED.get(fmt)
        if nested:
            key, event = nested
            self.event_counts[event] += sum(len(row[key]) for row in rows)
