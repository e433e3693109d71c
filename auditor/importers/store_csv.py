"""The store's own CSV exports: POS sales, receiving scans, moves, cycle counts, notifications.

Every file needs its header row; times are ISO 8601 with a UTC offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from auditor.domain.events import Event, EventType
from auditor.importers import fields as f
from auditor.importers.base import Format, ParseContext
from auditor.importers.sources import csv_records

Row = Mapping[str, Any]

CUSTOMER_TYPES = frozenset({"Consumer", "Patient", "Caregiver", "ExternalPatient",
                            "NonResidentConsumer"})
NOTICE_KINDS = frozenset({"theft", "loss", "significant-discrepancy", "other"})
NOTICE_RECIPIENTS = frozenset({"regulator", "law-enforcement"})

POS_SALES = ("receipt_id", "line_id", "sold_at", "package_label", "sku", "product_name",
             "category", "quantity", "unit", "unit_price", "total_price", "customer_type",
             "customer_id", "employee", "voided")
RECEIVING_SCANS = ("scanned_at", "manifest_number", "package_label", "quantity", "unit",
                   "employee")
MOVES = ("moved_at", "package_label", "from_location", "to_location", "quantity", "unit",
         "employee")
COUNTS = ("counted_at", "count_id", "location", "package_label", "counted_quantity", "unit",
          "employee")
NOTIFICATIONS = ("sent_at", "kind", "recipient", "reference", "package_label", "employee")


def pos_sale(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one POS export line into a POS sale line."""
    sold_at = f.aware_time(row, "sold_at")
    label = f.tag(row, "package_label")
    receipt_id = f.text(row, "receipt_id", max_len=100)
    payload = {
        "receipt_id": receipt_id,
        "line_id": f.text(row, "line_id", max_len=100),
        "sold_at": f.iso(sold_at),
        "label": label,
        "sku": f.text(row, "sku", required=False),
        "product_name": f.text(row, "product_name", required=False),
        "category": f.text(row, "category", required=False),
        "quantity": f.number(row, "quantity"),
        "unit": f.unit(row, "unit"),
        "unit_price": f.number(row, "unit_price", required=False),
        "total_price": f.number(row, "total_price", required=False),
        "customer_type": f.choice(row, "customer_type", CUSTOMER_TYPES, required=False),
        "customer_id": f.text(row, "customer_id", required=False),
        "employee": f.text(row, "employee", required=False),
        "voided": f.boolean(row, "voided"),
    }
    key = f"{payload['receipt_id']}:{payload['line_id']}"
    return [Event(EventType.POS_SALE_LINE, sold_at, key, payload,
                  package_label=label, reference=receipt_id)]


def receiving_scan(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one receiving-scanner row into a receiving scan."""
    scanned_at = f.aware_time(row, "scanned_at")
    label = f.tag(row, "package_label")
    manifest = f.text(row, "manifest_number")
    payload = {
        "scanned_at": f.iso(scanned_at),
        "manifest_number": manifest,
        "label": label,
        "quantity": f.number(row, "quantity", required=False),
        "unit": f.unit(row, "unit", required=False),
        "employee": f.text(row, "employee", required=False),
    }
    key = f"{manifest}:{label}:{f.iso(scanned_at)}"
    return [Event(EventType.RECEIVING_SCAN, scanned_at, key, payload,
                  package_label=label, reference=manifest)]


def move(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one physical move (e.g. vault to sales floor) into a move event."""
    moved_at = f.aware_time(row, "moved_at")
    label = f.tag(row, "package_label")
    payload = {
        "moved_at": f.iso(moved_at),
        "label": label,
        "from_location": f.text(row, "from_location", required=False),
        "to_location": f.text(row, "to_location"),
        "quantity": f.number(row, "quantity", required=False),
        "unit": f.unit(row, "unit", required=False),
        "employee": f.text(row, "employee", required=False),
    }
    key = f"{label}:{f.iso(moved_at)}:{payload['to_location']}"
    return [Event(EventType.MOVE, moved_at, key, payload, package_label=label)]


def count_line(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one cycle-count line into a count event."""
    counted_at = f.aware_time(row, "counted_at")
    label = f.tag(row, "package_label")
    count_id = f.text(row, "count_id", max_len=100)
    payload = {
        "counted_at": f.iso(counted_at),
        "count_id": count_id,
        "location": f.text(row, "location", required=False),
        "label": label,
        "counted_quantity": f.number(row, "counted_quantity"),
        "unit": f.unit(row, "unit"),
        "employee": f.text(row, "employee", required=False),
    }
    key = f"{count_id}:{label}:{f.iso(counted_at)}"
    return [Event(EventType.COUNT_LINE, counted_at, key, payload,
                  package_label=label, reference=count_id)]


def notification(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one notice sent to a regulator or the police into a notification event."""
    sent_at = f.aware_time(row, "sent_at")
    label = f.tag(row, "package_label", required=False)
    payload = {
        "sent_at": f.iso(sent_at),
        "kind": f.choice(row, "kind", NOTICE_KINDS),
        "recipient": f.choice(row, "recipient", NOTICE_RECIPIENTS),
        "reference": f.text(row, "reference", required=False),
        "label": label,
        "employee": f.text(row, "employee", required=False),
    }
    key = ":".join(str(payload[k]) for k in ("sent_at", "kind", "recipient", "reference", "label"))
    return [Event(EventType.NOTIFICATION, sent_at, key, payload,
                  package_label=label, reference=payload["reference"])]


COLUMNS = {"pos-sales": POS_SALES, "receiving-scans": RECEIVING_SCANS, "moves": MOVES,
           "counts": COUNTS, "notifications": NOTIFICATIONS}
TIME_FIELDS = {"pos-sales": "sold_at", "receiving-scans": "scanned_at", "moves": "moved_at",
               "counts": "counted_at", "notifications": "sent_at"}
NUMBER_FIELDS = frozenset({"quantity", "unit_price", "total_price", "counted_quantity"})


def _csv_format(name: str, description: str, columns: tuple[str, ...], parse: Any) -> Format:
    return Format(name, description, partial(csv_records, columns=columns), parse,
                  frozenset(columns), strict=True)


FORMATS = [
    _csv_format("pos-sales", "POS sale lines (CSV)", POS_SALES, pos_sale),
    _csv_format("receiving-scans", "packages scanned at receiving (CSV)", RECEIVING_SCANS,
                receiving_scan),
    _csv_format("moves", "physical moves between locations (CSV)", MOVES, move),
    _csv_format("counts", "cycle-count lines (CSV)", COUNTS, count_line),
    _csv_format("notifications", "notices to the regulator or police (CSV)", NOTIFICATIONS,
                notification),
]
