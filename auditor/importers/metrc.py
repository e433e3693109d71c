"""METRC payload importers: packages, adjustments, reasons, receipts, transfers, moves, finishes.

Field names are METRC's (PascalCase); the events carry snake_case payloads. METRC's
request and response shapes name some fields differently; both are accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from auditor.domain.errors import RowRejected
from auditor.domain.events import Event, EventType, canonical_json
from auditor.importers import fields as f
from auditor.importers import metrc_fields
from auditor.importers.base import Format, ParseContext
from auditor.importers.sources import json_records

Row = Mapping[str, Any]


def synonym(row: Row, *names: str) -> str:
    """Return whichever of a request/response field pair the record uses; refuse both differing."""
    if len(names) == 2 and names[1] not in row:  # the usual case: one shape, one name
        return names[0]
    present = [name for name in names if row.get(name) not in (None, "")]
    if len(present) > 1 and len({str(row[name]) for name in present}) > 1:
        raise RowRejected(f"{' and '.join(present)} disagree; send one of them")
    return present[0] if present else names[0]


def _unset_or(value: Any) -> str:
    return "unset" if value is None else f.iso(value) or "unset"


def package_snapshot(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one GET /packages/v2/active|onhold|inactive row into a package snapshot."""
    label = f.tag(row, "Label")
    modified = f.aware_time(row, "LastModified", required=False)
    if modified is None:
        raise RowRejected("LastModified is required to place a package snapshot in time")
    item = row.get("Item") or {}
    if not isinstance(item, dict):
        raise RowRejected("Item must be an object")
    payload = {
        "metrc_id": f.integer(row, "Id", required=False),
        "label": label,
        "package_type": f.text(row, "PackageType", required=False),
        "item_name": f.text(item, "Name", required=False),
        "category": f.text(item, "ProductCategoryName", required=False),
        "quantity_type": f.text(item, "QuantityType", required=False),
        "unit_weight": f.number(item, "UnitWeight", required=False),
        "unit_weight_unit": f.unit(item, "UnitWeightUnitOfMeasureName", required=False),
        "unit_thc_content": f.number(item, "UnitThcContent", required=False),
        "unit_thc_content_unit": f.unit(item, "UnitThcContentUnitOfMeasureName",
                                        required=False),
        "quantity": f.number(row, "Quantity"),
        "unit": f.unit(row, "UnitOfMeasureName"),
        "location": f.text(row, "LocationName", required=False),
        "sublocation": f.text(row, "SublocationName", required=False),
        "packaged_date": f.iso(f.day(row, "PackagedDate", required=False)),
        "expiration_date": f.iso(f.day(row, "ExpirationDate", required=False)),
        "sell_by_date": f.iso(f.day(row, "SellByDate", required=False)),
        "use_by_date": f.iso(f.day(row, "UseByDate", required=False)),
        "lab_testing_state": f.text(row, "LabTestingState", required=False),
        "is_on_hold": f.boolean(row, "IsOnHold"),
        "is_on_recall": f.boolean(row, "IsOnRecall"),
        "is_trade_sample": f.boolean(row, "IsTradeSample"),
        "is_donation": f.boolean(row, "IsDonation"),
        "is_testing_sample": f.boolean(row, "IsTestingSample"),
        "is_finished": f.boolean(row, "IsFinished"),
        "finished_date": f.iso(f.day(row, "FinishedDate", required=False)),
        "archived_date": f.iso(f.day(row, "ArchivedDate", required=False)),
        "received_at": f.iso(f.aware_time(row, "ReceivedDateTime", required=False)),
        "received_from_manifest": f.text(row, "ReceivedFromManifestNumber", required=False),
        "received_from_license": f.text(row, "ReceivedFromFacilityLicenseNumber",
                                        required=False),
        "last_modified": f.iso(modified),
    }
    return [Event(EventType.PACKAGE_SNAPSHOT, modified, f"{label}:{f.iso(modified)}", payload,
                  package_label=label)]


def _adjusted_at(row: Row, ctx: ParseContext) -> tuple[Any, str]:
    """Return the adjustment time and its precision: a full timestamp, or only a date."""
    value = row.get("AdjustmentDate")
    if isinstance(value, str) and len(value.strip()) > 10:
        return f.local_time(row, "AdjustmentDate", ctx.zone), "time"
    return f.start_of_day(f.day(row, "AdjustmentDate"), ctx.zone), "date"


def adjustment(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn a GET /packages/v2/adjustments row (or a POST /packages/v2/adjust body) into one."""
    label = f.tag(row, synonym(row, "PackageLabel", "Label"))
    adjusted_at, precision = _adjusted_at(row, ctx)
    payload = {
        "package_metrc_id": f.integer(row, "PackageId", required=False),
        "label": label,
        "item_name": f.text(row, "ItemName", required=False),
        "category": f.text(row, "ItemCategoryName", required=False),
        "quantity": f.number(row, synonym(row, "AdjustmentQuantity", "Quantity")),
        "unit": f.unit(row, synonym(row, "AdjustmentUnitOfMeasureName", "UnitOfMeasure")),
        "reason": f.text(row, synonym(row, "AdjustmentReasonName", "AdjustmentReason")),
        "note": f.raw_text(row, synonym(row, "AdjustmentNote", "ReasonNote")),
        "adjusted_at": f.iso(adjusted_at),
        "time_precision": precision,
        "adjusted_by": f.text(row, "AdjustedByUserName", required=False),
    }
    # METRC gives adjustments no id of their own: the content is the identity.
    digest = hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:20]
    return [Event(EventType.ADJUSTMENT, adjusted_at, f"{label}:{f.iso(adjusted_at)}:{digest}",
                  payload, package_label=label)]


def reason_list_digest(records: list[tuple[int, Any]]) -> str:
    """Return a digest of a whole adjust-reason list, so one list version is one identity."""
    rows = sorted(canonical_json(r) for _, r in records if isinstance(r, dict))
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()[:20]


def adjust_reason(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn one GET /packages/v2/adjust/reasons row into a reason of the list in force."""
    if ctx.effective_at is None or ctx.reference is None:
        raise RowRejected("an adjust-reason list needs its effective time and list digest")
    name = f.text(row, "Name")
    payload = {
        "name": name,
        "requires_note": f.boolean(row, "RequiresNote"),
        "requires_waste_weight": f.boolean(row, "RequiresWasteWeight"),
        "list_digest": ctx.reference,
        "effective_at": f.iso(ctx.effective_at),
    }
    key = f"{ctx.reference}:{f.iso(ctx.effective_at)}:{name}"
    return [Event(EventType.ADJUST_REASON, ctx.effective_at, key, payload,
                  reference=ctx.reference)]


def _sale_line(receipt: dict[str, Any], key: str, index: int, line: Any,
               sold_at: Any) -> Event:
    if not isinstance(line, dict):
        raise RowRejected(f"Transactions[{index}] must be an object")
    try:
        label = f.tag(line, "PackageLabel")
        payload = {
            "receipt_metrc_id": receipt["metrc_id"],
            "external_receipt_number": receipt["external_receipt_number"],
            "line_index": index,
            "label": label,
            "quantity": f.number(line, synonym(line, "QuantitySold", "Quantity")),
            "unit": f.unit(line, synonym(line, "UnitOfMeasureName", "UnitOfMeasure")),
            "total_price": f.number(line, synonym(line, "TotalPrice", "TotalAmount"),
                                    required=False),
            "sold_at": receipt["sold_at"],
            "recorded_at": receipt["recorded_at"],
            "archived_date": receipt["archived_date"],
            "customer_type": receipt["customer_type"],
        }
    except RowRejected as exc:
        raise RowRejected(f"Transactions[{index}]: {exc}") from None
    return Event(EventType.METRC_SALE_LINE, sold_at, f"{key}:{index}", payload, package_label=label,
                 reference=receipt["external_receipt_number"] or str(receipt["metrc_id"]))


def receipt(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn a METRC sales receipt (v1 or v2, request or response) into a receipt and its lines."""
    metrc_id = f.integer(row, "Id", required=False)
    external = f.text(row, "ExternalReceiptNumber", required=metrc_id is None)
    sold_at = f.local_time(row, "SalesDateTime", ctx.zone)
    modified = f.aware_time(row, "LastModified", required=False)
    lines = row.get("Transactions") or []
    if not isinstance(lines, list):
        raise RowRejected("Transactions must be a list")
    head = {
        "metrc_id": metrc_id,
        "receipt_number": f.text(row, "ReceiptNumber", required=False),
        "external_receipt_number": external,
        "sold_at": f.iso(sold_at),
        "customer_type": f.text(row, "SalesCustomerType", required=False),
        "patient_license": f.text(row, "PatientLicenseNumber", required=False),
        "caregiver_license": f.text(row, "CaregiverLicenseNumber", required=False),
        "is_final": f.boolean(row, "IsFinal"),
        "archived_date": f.iso(f.day(row, "ArchivedDate", required=False)),
        "recorded_at": f.iso(f.aware_time(row, "RecordedDateTime", required=False)),
        "recorded_by": f.text(row, "RecordedByUserName", required=False),
        "last_modified": f.iso(modified),
        "line_count": len(lines),
    }
    identity = str(metrc_id) if metrc_id is not None else f"ext:{external}"
    key = f"{identity}:{_unset_or(modified)}"
    reference = external or str(metrc_id)
    events = [Event(EventType.METRC_RECEIPT, sold_at, key, head, reference=reference)]
    events += [_sale_line(head, key, i, line, sold_at) for i, line in enumerate(lines)]
    return events


def _delivery_package(head: dict[str, Any], key: str, index: int, row: Any,
                      occurred: Any) -> Event:
    if not isinstance(row, dict):
        raise RowRejected(f"Packages[{index}] must be an object")
    try:
        label = f.tag(row, "PackageLabel")
        payload = {
            "manifest_number": head["manifest_number"],
            "transfer_id": head["transfer_id"],
            "delivery_id": head["delivery_id"],
            "package_metrc_id": f.integer(row, "PackageId", required=False),
            "label": label,
            "item_name": f.text(row, "ItemName", required=False),
            "category": f.text(row, "ItemCategoryName", required=False),
            "shipment_state": f.text(row, "ShipmentPackageState", required=False),
            "shipped_quantity": f.number(row, "ShippedQuantity", required=False),
            "shipped_unit": f.unit(row, "ShippedUnitOfMeasureName", required=False),
            "received_quantity": f.number(row, "ReceivedQuantity", required=False),
            "received_unit": f.unit(row, "ReceivedUnitOfMeasureName", required=False),
            "lab_testing_state": f.text(row, "LabTestingState", required=False),
            "received_at": head["received_at"],
            "actual_arrival_at": head["actual_arrival_at"],
        }
    except RowRejected as exc:
        raise RowRejected(f"Packages[{index}]: {exc}") from None
    return Event(EventType.MANIFEST_PACKAGE, occurred, f"{key}:{label}", payload,
                 package_label=label, reference=head["manifest_number"])


def incoming_transfer(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn a GET /transfers/v2/incoming row, with its delivery `Packages`, into manifest events."""
    packages = row.get("Packages") or []
    if not isinstance(packages, list):
        raise RowRejected("Packages must be a list of delivery packages")
    received = f.aware_time(row, "ReceivedDateTime", required=False)
    created = f.aware_time(row, "CreatedDateTime", required=False)
    modified = f.aware_time(row, "LastModified", required=False)
    arrival = f.local_time(row, "ActualArrivalDateTime", ctx.zone, required=False)
    occurred = received or modified or arrival or created
    if occurred is None:
        raise RowRejected("the transfer carries no time (ReceivedDateTime, LastModified, "
                          "ActualArrivalDateTime or CreatedDateTime)")
    head = {
        "transfer_id": f.integer(row, "Id", required=False),
        "manifest_number": f.text(row, "ManifestNumber"),
        "shipper_license": f.text(row, "ShipperFacilityLicenseNumber", required=False),
        "shipper_name": f.text(row, "ShipperFacilityName", required=False),
        "recipient_license": f.text(row, "RecipientFacilityLicenseNumber", required=False),
        "delivery_id": f.integer(row, "DeliveryId", required=False),
        "package_count": f.integer(row, "PackageCount", required=False),
        "received_package_count": f.integer(row, "ReceivedPackageCount", required=False),
        "is_voided": f.boolean(row, "IsVoided"),
        "created_at": f.iso(created),
        "estimated_arrival_at": f.iso(f.local_time(row, "EstimatedArrivalDateTime", ctx.zone,
                                                   required=False)),
        "actual_arrival_at": f.iso(arrival),
        "received_at": f.iso(received),
        "last_modified": f.iso(modified),
    }
    key = f"{head['manifest_number']}:{head['delivery_id']}:{_unset_or(modified)}"
    events = [Event(EventType.MANIFEST, occurred, key, head,
                    reference=str(head["manifest_number"]))]
    events += [_delivery_package(head, key, i, p, occurred) for i, p in enumerate(packages)]
    return events


def _recorded_or_local_day(row: Row, date_field: str, ctx: ParseContext) -> tuple[Any, str]:
    recorded = f.aware_time(row, "RecordedDateTime", required=False)
    if recorded is not None:
        return recorded, "time"
    when = f.day(row, date_field, required=False)
    if when is None:
        raise RowRejected(f"neither RecordedDateTime nor {date_field} is set, so the record "
                          "cannot be placed in time")
    return f.start_of_day(when, ctx.zone), "date"


def location_change(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn a PUT /packages/v2/location body, with its RecordedDateTime, into a location change."""
    label = f.tag(row, "Label")
    recorded, precision = _recorded_or_local_day(row, "MoveDate", ctx)
    payload = {
        "label": label,
        "location": f.text(row, "Location"),
        "sublocation": f.text(row, "Sublocation", required=False),
        "move_date": f.iso(f.day(row, "MoveDate", required=False)),
        "recorded_at": f.iso(recorded),
        "time_precision": precision,
    }
    key = f"{label}:{f.iso(recorded)}:{payload['location']}:{payload['sublocation']}"
    return [Event(EventType.LOCATION_CHANGE, recorded, key, payload, package_label=label)]


def finished_package(row: Row, ctx: ParseContext) -> list[Event]:
    """Turn a PUT /packages/v2/finish body into a package-finished event."""
    label = f.tag(row, "Label")
    recorded, precision = _recorded_or_local_day(row, "ActualDate", ctx)
    payload = {
        "label": label,
        "actual_date": f.iso(f.day(row, "ActualDate")),
        "recorded_at": f.iso(recorded),
        "time_precision": precision,
    }
    return [Event(EventType.PACKAGE_FINISHED, recorded, f"{label}:{payload['actual_date']}",
                  payload, package_label=label)]


FORMATS = [
    Format("metrc-packages", "GET /packages/v2/active, /onhold, /inactive (v2 or v1)",
           json_records, package_snapshot, metrc_fields.PACKAGE),
    Format("metrc-adjustments", "GET /packages/v2/adjustments (or POST /packages/v2/adjust)",
           json_records, adjustment, metrc_fields.ADJUSTMENT),
    Format("metrc-adjust-reasons", "GET /packages/v2/adjust/reasons", json_records,
           adjust_reason, metrc_fields.ADJUST_REASON),
    Format("metrc-receipts", "GET /sales/v2/receipts/active or /inactive, with Transactions",
           json_records, receipt, metrc_fields.RECEIPT),
    Format("metrc-transfers", "GET /transfers/v2/incoming rows, each with its `Packages`",
           json_records, incoming_transfer, metrc_fields.INCOMING_TRANSFER),
    Format("metrc-location-changes", "PUT /packages/v2/location bodies with RecordedDateTime",
           json_records, location_change, metrc_fields.LOCATION_CHANGE),
    Format("metrc-finished-packages", "PUT /packages/v2/finish bodies", json_records,
           finished_package, metrc_fields.FINISHED_PACKAGE),
]
