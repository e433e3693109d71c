import csv
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from auditor.sample import StoreSpec, generate_store
from auditor.sample.planting import RULE_IDS

SMALL = StoreSpec(days=21, receipts_per_day=40, seed=3)
PRODUCTION_TAG = re.compile(r"^1A4[0-9A-Z]{21}$")
HEADERS = {
    "pos-sales": "receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
                 "unit,unit_price,total_price,customer_type,customer_id,employee,voided",
    "receiving-scans": "scanned_at,manifest_number,package_label,quantity,unit,employee",
    "moves": "moved_at,package_label,from_location,to_location,quantity,unit,employee",
    "counts": "counted_at,count_id,location,package_label,counted_quantity,unit,employee",
    "notifications": "sent_at,kind,recipient,reference,package_label,employee",
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    return root, generate_store(root, SMALL)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    spec = StoreSpec(days=30, receipts_per_day=40, seed=5, plant=False,
                     start=datetime(2026, 2, 20).date())
    return root, generate_store(root, spec)


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    root = tmp_path_factory.mktemp("quarter")
    return root, generate_store(root, StoreSpec(days=90, receipts_per_day=30, seed=2))


def files_of(root: Path) -> list[dict]:
    return json.loads((root / "files.json").read_text())


def records(root: Path, fmt: str) -> list:
    rows: list = []
    for entry in files_of(root):
        if entry["format"] != fmt:
            continue
        path = root / entry["path"]
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                rows.extend(csv.DictReader(handle))
        else:
            data = json.loads(path.read_text())
            rows.extend(data["Data"] if isinstance(data, dict) else data)
    return rows


def all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_writes_identical_bytes_in_every_file(planted, tmp_path):
    root, _ = planted
    generate_store(tmp_path, SMALL)
    assert all_bytes(tmp_path) == all_bytes(root)


def test_a_different_seed_writes_different_files(planted, tmp_path):
    root, _ = planted
    generate_store(tmp_path, StoreSpec(days=21, receipts_per_day=40, seed=4))
    ours, theirs = all_bytes(tmp_path), all_bytes(root)
    assert ours["days/2026-01-05/pos-sales.csv"] != theirs["days/2026-01-05/pos-sales.csv"]


def test_ground_truth_record_counts_equal_the_rows_in_the_files(planted):
    root, truth = planted
    for fmt, expected in truth["record_counts"].items():
        assert len(records(root, fmt)) == expected, fmt


def test_event_counts_follow_the_importer_mapping(planted):
    root, truth = planted
    events = truth["event_counts"]
    receipts = records(root, "metrc-receipts")
    transfers = records(root, "metrc-transfers")
    assert events["metrc_receipt"] == len(receipts)
    assert events["metrc_sale_line"] == sum(len(r["Transactions"]) for r in receipts)
    assert events["manifest_package"] == sum(len(m["Packages"]) for m in transfers)
    assert events["pos_sale_line"] == truth["record_counts"]["pos-sales"]


def test_ground_truth_file_matches_the_returned_value(planted):
    root, truth = planted
    assert json.loads((root / "ground-truth.json").read_text()) == truth


def test_every_csv_header_is_exactly_as_specified(quarter):
    root, _ = quarter
    seen = set()
    for entry in files_of(root):
        if entry["path"].endswith(".csv"):
            first = (root / entry["path"]).read_text(encoding="utf-8").split("\n", 1)[0]
            assert first == HEADERS[entry["format"]]
            seen.add(entry["format"])
    assert seen == set(HEADERS)


def test_every_rule_is_planted_in_a_90_day_store(quarter):
    _, truth = quarter
    planted_ids = [v["rule_id"] for v in truth["violations"]]
    assert set(planted_ids) == set(RULE_IDS)
    assert all(planted_ids.count(rule) >= 3 for rule in RULE_IDS
               if rule != "reconciliation-overdue")


def test_a_clean_store_lists_no_violations(clean):
    _, truth = clean
    assert truth["violations"] == []


def test_every_tag_in_a_clean_store_is_a_production_tag(clean):
    root, _ = clean
    tags = [r["package_label"] for fmt in ("pos-sales", "receiving-scans", "moves", "counts")
            for r in records(root, fmt)]
    tags += [s["Label"] for s in records(root, "metrc-packages")]
    tags += [t["PackageLabel"] for r in records(root, "metrc-receipts") for t in r["Transactions"]]
    assert tags and all(PRODUCTION_TAG.match(tag) for tag in tags)


def test_only_planted_tag_violations_carry_malformed_tags(quarter):
    root, truth = quarter
    tags = {r["package_label"] for fmt in ("pos-sales", "receiving-scans", "notifications")
            for r in records(root, fmt)}
    bad = {tag for tag in tags if not PRODUCTION_TAG.match(tag)}
    listed = {v["package_label"] for v in truth["violations"] if v["rule_id"] == "tag-invalid"}
    assert bad and bad == listed


def test_pos_and_metrc_sale_lines_agree_in_a_clean_store(clean):
    root, _ = clean
    pos = {(r["receipt_id"], r["package_label"]): (float(r["quantity"]), r["unit"])
           for r in records(root, "pos-sales") if r["voided"] == "false"}
    metrc = {(r["ExternalReceiptNumber"], t["PackageLabel"]): (t["QuantitySold"],
                                                               t["UnitOfMeasureName"])
             for r in records(root, "metrc-receipts") for t in r["Transactions"]}
    assert pos and pos == metrc


def test_metrc_hears_of_each_clean_sale_within_minutes(clean):
    root, _ = clean
    for receipt in records(root, "metrc-receipts"):
        recorded = datetime.fromisoformat(receipt["RecordedDateTime"])
        sold = datetime.fromisoformat(receipt["SalesDateTime"]).replace(tzinfo=recorded.tzinfo)
        assert 0 < (recorded - sold).total_seconds() <= 300


def test_a_clean_store_never_sells_a_package_before_accepting_it(clean):
    root, _ = clean
    accepted = {p["PackageLabel"]: datetime.fromisoformat(m["ReceivedDateTime"])
                for m in records(root, "metrc-transfers") for p in m["Packages"]
                if p["ShipmentPackageState"] == "Accepted"}
    sales = records(root, "pos-sales")
    assert sales
    for line in sales:
        assert datetime.fromisoformat(line["sold_at"]) > accepted[line["package_label"]]


def test_files_json_lists_every_file_written_in_import_order(planted):
    root, _ = planted
    listed = [entry["path"] for entry in files_of(root)]
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {"files.json", "ground-truth.json", "store.json"}
    assert listed[0] == "reference/metrc-adjust-reasons.json"
    days = [path.split("/")[1] for path in listed[1:]]
    assert days == sorted(days)


def test_times_carry_the_license_offset_across_daylight_saving(clean):
    root, _ = clean
    offsets = {line["sold_at"][:10]: line["sold_at"][-6:] for line in records(root, "pos-sales")}
    assert offsets["2026-03-07"] == "-08:00"
    assert offsets["2026-03-09"] == "-07:00"


def test_progress_is_reported_after_every_day(tmp_path):
    calls = []
    generate_store(tmp_path, StoreSpec(days=3, receipts_per_day=5),
                   lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
