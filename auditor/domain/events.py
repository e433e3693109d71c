"""Canonical events: the typed, tz-aware facts every source is translated into."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from auditor.domain.errors import NaiveDateTime


class EventType(StrEnum):
    """Every kind of fact the event store holds."""

    PACKAGE_SNAPSHOT = "package_snapshot"
    ADJUST_REASON = "adjust_reason"
    MANIFEST = "manifest"
    MANIFEST_PACKAGE = "manifest_package"
    RECEIVING_SCAN = "receiving_scan"
    LOCATION_CHANGE = "location_change"
    MOVE = "move"
    ADJUSTMENT = "adjustment"
    POS_SALE_LINE = "pos_sale_line"
    METRC_RECEIPT = "metrc_receipt"
    METRC_SALE_LINE = "metrc_sale_line"
    COUNT_LINE = "count_line"
    PACKAGE_FINISHED = "package_finished"
    NOTIFICATION = "notification"


_TYPE_NAMES = {kind: kind.value for kind in EventType}  # enum .value is slow in hot loops
_KEY_PREFIXES = {kind: f"{kind.value}:" for kind in EventType}

def require_aware(value: datetime, what: str = "time") -> datetime:
    """Return value in UTC, refusing a datetime that carries no zone."""
    if value.tzinfo is UTC:  # the importers' usual output: nothing to do
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDateTime(f"{what} {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


_last_iso: tuple[datetime | None, str] = (None, "")


def iso_text(value: datetime) -> str:
    """Return value.isoformat(), remembering the last answer.

    An imported event's time is written into its payload and hashed into its
    fingerprint, and a receipt's lines share the receipt's time: the same object is
    formatted several times in a row. A datetime never changes, and the one remembered
    is kept alive by the memo, so the identity test cannot be fooled by a reused id.
    """
    global _last_iso
    last = _last_iso
    if last[0] is value:
        return last[1]
    text = value.isoformat()
    _last_iso = (value, text)
    return text


def canonical_json(value: Any) -> str:
    """Serialise value the same way every time (sorted keys, compact, UTF-8).

    Equal content then hashes equal. orjson does it several times faster than the
    standard library, and imports serialise every event.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True, slots=True)
class Event:
    """One fact from one source, placed in time, with the key that makes re-imports no-ops.

    `natural_key` identifies the fact within its license: the same record imported
    twice yields the same key. `fingerprint` hashes the content, so the same key
    arriving with different content is recognised as a conflict, not a duplicate.
    """

    type: EventType
    occurred_at: datetime
    natural_key: str
    payload: dict[str, Any]
    package_label: str | None = None
    reference: str | None = None
    payload_json: str = field(init=False, repr=False, compare=False)
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        # Runs for every event imported, so it reads each field once into a local.
        kind = _TYPE_NAMES[self.type]
        occurred_at = self.occurred_at
        if occurred_at.tzinfo is not UTC:
            occurred_at = require_aware(occurred_at, "occurred_at")
            object.__setattr__(self, "occurred_at", occurred_at)
        prefix = _KEY_PREFIXES[self.type]
        if not self.natural_key.startswith(prefix):
            object.__setattr__(self, "natural_key", prefix + self.natural_key)
        # Serialised once: the fingerprint hashes it and the store writes it as is.
        payload_json = orjson.dumps(self.payload, option=orjson.OPT_SORT_KEYS).decode()
        object.__setattr__(self, "payload_json", payload_json)
        content = "\x1f".join((kind, iso_text(occurred_at), self.package_label or "",
                               self.reference or "", payload_json))
        object.__setattr__(self, "fingerprint", hashlib.sha256(content.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One stored event as it is read back: id, type, time, columns and payload."""

    id: int
    type: str
    occurred_at: datetime
    package_label: str | None
    reference: str | None
    payload: Mapping[str, Any]
    t: float = field(init=False, repr=False, compare=False)  # POSIX seconds, the engine's

    def __post_init__(self) -> None:
        """Work out the event time in POSIX seconds once (every program reads it)."""
        object.__setattr__(self, "t", self.occurred_at.timestamp())


def _fields(names: str) -> frozenset[str]:
    return frozenset(names.split())


# The payload fields of each event type: the vocabulary the rules are written in.
EVENT_FIELDS: dict[EventType, frozenset[str]] = {
    EventType.PACKAGE_SNAPSHOT: _fields(
        "metrc_id label package_type item_name category quantity_type unit_weight "
        "unit_weight_unit unit_thc_content unit_thc_content_unit quantity unit location "
        "sublocation packaged_date expiration_date sell_by_date use_by_date lab_testing_state "
        "is_on_hold is_on_recall is_trade_sample is_donation is_testing_sample is_finished "
        "finished_date archived_date received_at received_from_manifest received_from_license "
        "last_modified"),
    EventType.ADJUST_REASON: _fields(
        "name requires_note requires_waste_weight list_digest effective_at"),
    EventType.MANIFEST: _fields(
        "transfer_id manifest_number shipper_license shipper_name recipient_license delivery_id "
        "package_count received_package_count is_voided created_at estimated_arrival_at "
        "actual_arrival_at received_at last_modified"),
    EventType.MANIFEST_PACKAGE: _fields(
        "manifest_number transfer_id delivery_id package_metrc_id label item_name category "
        "shipment_state shipped_quantity shipped_unit received_quantity received_unit "
        "lab_testing_state received_at actual_arrival_at"),
    EventType.RECEIVING_SCAN: _fields("scanned_at manifest_number label quantity unit employee"),
    EventType.LOCATION_CHANGE: _fields(
        "label location sublocation move_date recorded_at time_precision"),
    EventType.MOVE: _fields("moved_at label from_location to_location quantity unit employee"),
    EventType.ADJUSTMENT: _fields(
        "package_metrc_id label item_name category quantity unit reason note adjusted_at "
        "time_precision adjusted_by"),
    EventType.POS_SALE_LINE: _fields(
        "receipt_id line_id sold_at label sku product_name category quantity unit unit_price "
        "total_price customer_type customer_id employee voided"),
    EventType.METRC_RECEIPT: _fields(
        "metrc_id receipt_number external_receipt_number sold_at customer_type patient_license "
        "caregiver_license is_final archived_date recorded_at recorded_by last_modified "
        "line_count"),
    EventType.METRC_SALE_LINE: _fields(
        "receipt_metrc_id external_receipt_number line_index label quantity unit total_price "
        "sold_at recorded_at archived_date customer_type"),
    EventType.COUNT_LINE: _fields(
        "counted_at count_id location label counted_quantity unit employee"),
    EventType.PACKAGE_FINISHED: _fields("label actual_date recorded_at time_precision"),
    EventType.NOTIFICATION: _fields("sent_at kind recipient reference label employee"),
}
