"""The store's CSV formats and canonical events, through the ingest service on the fake store."""

import json

import pytest

from auditor.domain.errors import FileRejected
from auditor.domain.events import EventType
from auditor.importers.store_csv import COUNTS, MOVES, NOTIFICATIONS, POS_SALES, RECEIVING_SCANS
from auditor.services.ingest import ingest
from tests.conftest import LICENSE

TAG = "1A4000000000000000000001"


def csv(columns, *rows):
    return ("\n".join([",".join(columns), *rows]) + "\n").encode()


def run(store, fmt, data, **kwargs):
    return ingest(store, LICENSE.number, fmt, f"{fmt}.csv", data, **kwargs)


POS_ROW = (f"R1,1,2026-01-05T14:02:00-08:00,{TAG},SKU1,Blue Dream 3.5g,Flower,3.5,g,10,35,"
           "Consumer,C1,ana,false")


def test_pos_sale_line_becomes_a_typed_event(fake_store):
    summary = run(fake_store, "pos-sales", csv(POS_SALES, POS_ROW))
    assert summary.accepted == 1
    (event,) = fake_store.events[LICENSE.number]
    assert event.type == EventType.POS_SALE_LINE and event.reference == "R1"
    assert event.payload["quantity"] == 3.5 and event.payload["unit"] == "Grams"
    assert event.payload["voided"] is False and event.occurred_at.hour == 22


def test_each_bad_row_is_rejected_with_its_line_and_reason(fake_store):
    data = csv(POS_SALES, POS_ROW,
               POS_ROW.replace("-08:00", ""),          # line 3: no offset
               POS_ROW.replace(",3.5,", ",lots,"),     # line 4: not a number
               POS_ROW.replace(",g,", ",bags,"),       # line 5: unknown unit
               POS_ROW.replace("Consumer", "Tourist"),  # line 6: unknown customer type
               POS_ROW.replace(f",{TAG},", ",,"))      # line 7: no tag at all
    summary = run(fake_store, "pos-sales", data)
    assert summary.balanced() and (summary.accepted, summary.rejected) == (1, 5)
    assert [r.line for r in summary.rejections] == [3, 4, 5, 6, 7]
    reasons = " | ".join(r.reason for r in summary.rejections)
    for fragment in ("no UTC offset", "quantity must be a number", "not a known unit",
                     "customer_type 'Tourist'", "package_label is required"):
        assert fragment in reasons


def test_malformed_tag_is_kept_as_evidence(fake_store):
    summary = run(fake_store, "pos-sales", csv(POS_SALES, POS_ROW.replace(TAG, "1a4-short")))
    assert summary.accepted == 1
    assert fake_store.events[LICENSE.number][0].package_label == "1a4-short"


def test_repeated_row_in_one_file_counts_once(fake_store):
    summary = run(fake_store, "pos-sales", csv(POS_SALES, POS_ROW, POS_ROW))
    assert (summary.accepted, summary.duplicates) == (1, 1)


def test_same_key_with_other_content_is_refused_not_overwritten(fake_store):
    run(fake_store, "pos-sales", csv(POS_SALES, POS_ROW))
    changed = run(fake_store, "pos-sales", csv(POS_SALES, POS_ROW.replace(",35,", ",30,")))
    assert changed.rejected == 1 and "different content" in changed.rejections[0].reason
    assert fake_store.events[LICENSE.number][0].payload["total_price"] == 35.0


def test_unknown_column_rejects_the_file(fake_store):
    with pytest.raises(FileRejected, match="unknown columns: tip"):
        run(fake_store, "pos-sales", csv((*POS_SALES, "tip"), POS_ROW + ",1"))
    assert fake_store.imports == {}


@pytest.mark.parametrize("fmt, columns, row, kind", [
    ("receiving-scans", RECEIVING_SCANS, f"2026-01-05T09:00:00-08:00,0000000001,{TAG},454,Grams,bo",
     EventType.RECEIVING_SCAN),
    ("moves", MOVES, f"2026-01-05T09:30:00-08:00,{TAG},Vault,Sales Floor,454,Grams,bo",
     EventType.MOVE),
    ("counts", COUNTS, f"2026-01-05T20:00:00-08:00,C-1,Sales Floor,{TAG},450.5,Grams,bo",
     EventType.COUNT_LINE),
    ("notifications", NOTIFICATIONS, f"2026-01-05T20:00:00-08:00,theft,regulator,INC-1,{TAG},bo",
     EventType.NOTIFICATION),
])
def test_every_store_csv_format_imports(fake_store, fmt, columns, row, kind):
    summary = run(fake_store, fmt, csv(columns, row))
    assert summary.accepted == 1
    assert fake_store.events[LICENSE.number][0].type == kind


def test_notification_kind_and_recipient_are_checked(fake_store):
    row = f"2026-01-05T20:00:00-08:00,robbery,mayor,INC-1,{TAG},bo"
    summary = run(fake_store, "notifications", csv(NOTIFICATIONS, row))
    assert summary.rejected == 1 and "kind 'robbery'" in summary.rejections[0].reason


def test_chunks_split_a_file_without_losing_or_doubling_rows(fake_store):
    rows = [POS_ROW.replace("R1,1,", f"R1,{i},") for i in range(7)]
    summary = run(fake_store, "pos-sales", csv(POS_SALES, *rows, rows[0]), chunk_size=3)
    assert (summary.rows_read, summary.accepted, summary.duplicates) == (8, 7, 1)


def canonical(**overrides):
    event = {"type": "move", "occurred_at": "2026-01-05T09:30:00-08:00", "natural_key": "m1",
             "package_label": TAG, "payload": {"label": TAG, "to_location": "Sales Floor"}}
    event.update(overrides)
    return event


def test_canonical_events_import_from_ndjson_and_json_arrays(fake_store):
    lines = "\n".join(json.dumps(canonical(natural_key=f"m{i}")) for i in range(3))
    assert run(fake_store, "events", lines.encode()).accepted == 3
    array = json.dumps([canonical(natural_key="m9")]).encode()
    assert run(fake_store, "events", array).accepted == 1


@pytest.mark.parametrize("bad, reason", [
    (canonical(type="teleport"), "type 'teleport'"),
    (canonical(occurred_at="2026-01-05T09:30:00"), "no UTC offset"),
    (canonical(payload={"label": TAG, "colour": "red"}), "unknown to move: colour"),
    (canonical(extra=1), "unknown fields: extra"),
    (canonical(payload=[1]), "payload must be an object"),
    (canonical(payload={"label": TAG, "quantity": "lots"}), "payload quantity must be a number"),
    (canonical(payload={"label": TAG, "quantity": True}), "payload quantity must be a number"),
    (canonical(payload={"label": 7}), "payload label must be text"),
    (canonical(payload={"label": TAG, "moved_at": "2026-01-05T09:30:00"}),
     "payload moved_at must be an ISO time with an offset"),
    (canonical(type="pos_sale_line", payload={"label": TAG, "voided": "no"}),
     "payload voided must be true or false"),
    (canonical(type="package_finished", payload={"label": TAG, "actual_date": "soon"}),
     "payload actual_date must be an ISO date"),
])
def test_canonical_events_are_read_strictly(fake_store, bad, reason):
    summary = run(fake_store, "events", json.dumps(bad).encode())
    assert summary.rejected == 1 and reason in summary.rejections[0].reason


def test_canonical_payload_values_of_their_kind_are_accepted_ids_as_numbers_too(fake_store):
    event = canonical(type="manifest_package", payload={
        "label": TAG, "transfer_id": 272225, "package_metrc_id": "3902861",
        "shipped_quantity": 10, "received_quantity": 9.5, "received_at": None,
        "actual_arrival_at": "2026-01-05T09:30:00-08:00", "lab_testing_state": "TestPassed"})
    assert run(fake_store, "events", json.dumps(event).encode()).accepted == 1
