"""Every METRC importer against METRC's own published example payloads."""

import json
from datetime import UTC, datetime

import pytest

from auditor.domain.events import EVENT_FIELDS, EventType
from auditor.services.ingest import ingest
from tests.conftest import LICENSE, METRC_EXAMPLES


def load(fake_store, fmt, *paths, **kwargs):
    summaries = [ingest(fake_store, LICENSE.number, fmt, p, (METRC_EXAMPLES / p).read_bytes(),
                        **kwargs) for p in paths]
    return summaries


def events_of(store, kind):
    return [e for e in store.events[LICENSE.number] if e.type == kind]


EXAMPLES = [
    ("metrc-packages", "Packages/GetActivePackages.response.json", 2, 0),
    ("metrc-packages", "Packages/GetOnHoldPackages.response.json", 2, 0),
    ("metrc-packages", "Packages/GetInactivePackages.response.json", 2, 0),
    ("metrc-packages", "Packages/GetInTransitPackages.response.json", 2, 0),
    ("metrc-packages", "Packages/GetPackagesByLabel.response.json", 1, 0),
    ("metrc-adjustments", "Packages/GetAdjustments.response.json", 2, 0),
    ("metrc-adjustments", "Packages/CreateAdjustPackages.request.json", 2, 0),
    ("metrc-adjust-reasons", "Packages/GetAdjustReasons.response.json", 2, 0),
    ("metrc-receipts", "Sales/GetActiveReceipts.response.json", 2, 0),
    ("metrc-receipts", "Sales/GetInactiveReceipts.response.json", 2, 0),
    ("metrc-receipts", "Sales/GetReceiptById.response.json", 1, 0),
    ("metrc-receipts", "Sales/CreateReceipts.request.json", 1, 0),
    ("metrc-transfers", "Transfers/GetIncomingTransfers.response.json", 1, 0),
    ("metrc-transfers", "Transfers/GetRejectedTransfers.response.json", 1, 0),
    # The first body's MoveDate is METRC's "not set" and it has no RecordedDateTime.
    ("metrc-location-changes", "Packages/UpdatePackagesLocation.request.json", 1, 1),
    ("metrc-finished-packages", "Packages/FinishPackages.request.json", 2, 0),
]


@pytest.mark.parametrize("fmt, path, accepted, rejected", EXAMPLES)
def test_every_covered_metrc_example_imports(fake_store, fmt, path, accepted, rejected):
    (summary,) = load(fake_store, fmt, path)
    assert (summary.accepted, summary.rejected) == (accepted, rejected)
    assert summary.balanced() and not summary.ignored_fields
    for event in fake_store.events[LICENSE.number]:
        assert set(event.payload) <= EVENT_FIELDS[event.type]


def test_reimporting_every_example_adds_nothing(fake_store):
    for fmt, path, _, _ in EXAMPLES:
        load(fake_store, fmt, path)
    before = fake_store.event_counts(LICENSE.number)
    again = [load(fake_store, fmt, path)[0] for fmt, path, _, _ in EXAMPLES]
    assert fake_store.event_counts(LICENSE.number) == before
    assert sum(s.accepted for s in again) == 0


def test_package_snapshot_keeps_placeholder_tags_and_state_flags(fake_store):
    load(fake_store, "metrc-packages", "Packages/GetOnHoldPackages.response.json")
    first = events_of(fake_store, EventType.PACKAGE_SNAPSHOT)[0]
    assert first.package_label == "ABCDEF012345670000010042"
    assert first.payload["is_on_hold"] is True and first.payload["quantity"] == 15.0
    assert first.payload["unit"] == "Ounces" and first.payload["item_name"] == "Buds"
    assert first.occurred_at == datetime(2026, 2, 8, 7, 5, 59, 857749, tzinfo=UTC)


def test_adjustment_keeps_its_full_timestamp_and_its_empty_note(fake_store):
    load(fake_store, "metrc-adjustments", "Packages/GetAdjustments.response.json")
    first = events_of(fake_store, EventType.ADJUSTMENT)[0]
    assert first.occurred_at == datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    assert first.payload["note"] == "" and first.payload["quantity"] == -0.5
    assert first.payload["reason"] == "Plant not growing"


def test_adjustment_request_date_is_local_midnight(fake_store):
    load(fake_store, "metrc-adjustments", "Packages/CreateAdjustPackages.request.json")
    first = events_of(fake_store, EventType.ADJUSTMENT)[0]
    assert first.occurred_at == datetime(2015, 12, 15, 8, 0, tzinfo=UTC)  # PST midnight
    assert first.payload["time_precision"] == "date" and first.payload["note"] is None


def test_reason_list_reimported_without_a_date_keeps_its_first_effective_time(fake_store):
    path = "Packages/GetAdjustReasons.response.json"
    first, again = load(fake_store, "metrc-adjust-reasons", path, path)
    assert (first.accepted, again.duplicates) == (2, 2)
    restated = load(fake_store, "metrc-adjust-reasons", path,
                    effective_at=datetime(2026, 3, 1, tzinfo=UTC))[0]
    assert restated.accepted == 2  # the same list re-stated from a new date is a new fact
    assert {e.payload["name"] for e in events_of(fake_store, EventType.ADJUST_REASON)} == {
        "Drying", "Entry Error"}


def test_receipt_request_lines_use_request_names_and_local_sale_time(fake_store):
    load(fake_store, "metrc-receipts", "Sales/CreateReceipts.request.json")
    lines = events_of(fake_store, EventType.METRC_SALE_LINE)
    assert [(e.package_label, e.payload["quantity"], e.payload["unit"], e.payload["total_price"])
            for e in lines] == [("ABCDEF012345670000010331", 1.0, "Ounces", 9.99),
                                ("ABCDEF012345670000010332", 1.0, "Ounces", 9.99)]
    assert lines[0].occurred_at == datetime(2016, 10, 4, 23, 44, 53, tzinfo=UTC)  # PDT
    assert lines[0].reference == "ABC-1234"


def _receipt(**line):
    return {"Id": 9, "ExternalReceiptNumber": "R-9", "SalesDateTime": "2026-01-05T10:00:00.000",
            "RecordedDateTime": "2026-01-05T10:01:00-08:00",
            "LastModified": "2026-01-05T10:01:00-08:00", "Transactions": [line]}


def test_receipt_response_names_are_accepted(fake_store):
    body = {"Data": [_receipt(PackageLabel="1A4000000000000000000001", QuantitySold=3.5,
                              UnitOfMeasureName="Grams", TotalPrice=40.0)]}
    summary = ingest(fake_store, LICENSE.number, "metrc-receipts", "r.json",
                     json.dumps(body).encode())
    assert summary.accepted == 1
    (line,) = events_of(fake_store, EventType.METRC_SALE_LINE)
    assert line.payload["quantity"] == 3.5 and line.payload["recorded_at"].startswith(
        "2026-01-05T18:01")


def test_receipt_whose_request_and_response_names_disagree_is_rejected(fake_store):
    body = [_receipt(PackageLabel="1A4000000000000000000001", QuantitySold=3.5, Quantity=7,
                     UnitOfMeasureName="Grams")]
    summary = ingest(fake_store, LICENSE.number, "metrc-receipts", "r.json",
                     json.dumps(body).encode())
    assert summary.rejected == 1 and "QuantitySold and Quantity disagree" in str(
        summary.rejections[0])


def test_transfer_with_delivery_packages_becomes_a_manifest_and_its_lines(fake_store):
    transfer = json.loads((METRC_EXAMPLES / "Transfers/GetIncomingTransfers.response.json")
                          .read_text())["Data"][0]
    transfer["Packages"] = json.loads(
        (METRC_EXAMPLES / "Transfers/GetDeliveryPackageById.response.json").read_text())["Data"]
    summary = ingest(fake_store, LICENSE.number, "metrc-transfers", "t.json",
                     json.dumps([transfer]).encode())
    assert (summary.accepted, summary.events_added) == (1, 3)
    lines = events_of(fake_store, EventType.MANIFEST_PACKAGE)
    assert [(e.payload["shipment_state"], e.payload["received_quantity"]) for e in lines] == [
        ("Accepted", 10.0), ("Rejected", None)]
    assert all(e.reference == "0000000001" for e in lines)
    assert lines[0].occurred_at == datetime(2016, 10, 12, 0, 42, 19, tzinfo=UTC)


def test_location_change_without_any_time_is_rejected_with_its_line(fake_store):
    (summary,) = load(fake_store, "metrc-location-changes",
                      "Packages/UpdatePackagesLocation.request.json")
    assert summary.rejections[0].line == 2
    assert "cannot be placed in time" in summary.rejections[0].reason


def test_unknown_metrc_fields_are_reported_not_fatal(fake_store):
    body = [{"Label": "1A4000000000000000000001", "ActualDate": "2026-01-02", "NewField": 1}]
    summary = ingest(fake_store, LICENSE.number, "metrc-finished-packages", "f.json",
                     json.dumps(body).encode())
    assert summary.accepted == 1 and summary.ignored_fields == {"NewField"}


def test_a_metrc_local_time_in_a_dst_gap_or_repeat_is_rejected_with_its_record(fake_store):
    receipts = [{"ExternalReceiptNumber": f"X{n}", "SalesDateTime": when, "Transactions": []}
                for n, when in enumerate(["2026-03-08T02:30:00.000", "2026-11-01T01:30:00.000",
                                          "2026-11-01T01:30:00-07:00"])]
    data = json.dumps(receipts, indent=1).encode()
    summary = ingest(fake_store, LICENSE.number, "metrc-receipts", "r.json", data)
    assert summary.accepted == 1
    gap, repeat = summary.rejections
    assert gap.line == 2 and "does not exist" in gap.reason
    assert repeat.line == 7 and "is ambiguous" in repeat.reason
    (kept,) = events_of(fake_store, EventType.METRC_RECEIPT)
    assert kept.occurred_at == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
