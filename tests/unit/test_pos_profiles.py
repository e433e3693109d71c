"""POS export profiles: each shipped profile reads a realistic export of its vendor."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.domain.errors import FileRejected, InvalidInput
from auditor.domain.events import EventType
from auditor.importers.profile import builtin_names, load_profile
from auditor.services.ingest import ingest
from tests.conftest import FIXTURES, LICENSE

EXPORTS = FIXTURES / "pos-exports"
GUMMIES, FLOWER, VAPE = ("1A4FF0100000022000000123", "1A4FF0100000022000000456",
                         "1A4FF0100000022000000789")
SALE = datetime(2026, 1, 5, 22, 15, tzinfo=UTC)     # 2:15 PM in Los Angeles
VOID = datetime(2026, 1, 6, 0, 40, tzinfo=UTC)      # 4:40 PM
RETURN = datetime(2026, 1, 6, 19, 5, tzinfo=UTC)    # 11:05 AM the next day

# (label, quantity, unit, voided, customer type, time) of each line, in file order
TWO_LINES = [(GUMMIES, 2.0, "Each", False, "Consumer", SALE),
             (FLOWER, 3.5, "Grams", False, "Consumer", SALE)]
VOIDED = [(VAPE, 1.0, "Each", True, "Patient", VOID)]
RETURNED = [(GUMMIES, -1.0, "Each", False, "Consumer", RETURN)]
EXPECTED = {
    "dutchie": [*TWO_LINES, (GUMMIES, 1.0, "Each", False, "Consumer", SALE), *VOIDED,
                *RETURNED],
    "flowhub": [*TWO_LINES, *VOIDED, *RETURNED],
    "treez": [*TWO_LINES, *VOIDED, *RETURNED],
    "cova": [*TWO_LINES, *RETURNED],   # Cova leaves voided sales out of its export
    "blaze": [*TWO_LINES, *VOIDED, *RETURNED],
}


def run(store, name: str, data: bytes | None = None, profile=None):
    data = (EXPORTS / f"{name}-sales.csv").read_bytes() if data is None else data
    return ingest(store, LICENSE.number, "pos-sales", f"{name}-sales.csv", data,
                  profile=profile or load_profile(name))


def test_every_shipped_profile_has_a_sample_export():
    assert builtin_names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_vendor_export_becomes_our_pos_sale_lines(fake_store, name):
    summary = run(fake_store, name)
    assert (summary.rows_read, summary.accepted, summary.rejected) == (
        len(EXPECTED[name]), len(EXPECTED[name]), 0), summary.rejections
    events = fake_store.events[LICENSE.number]
    assert all(e.type == EventType.POS_SALE_LINE for e in events)
    got = [(e.package_label, e.payload["quantity"], e.payload["unit"], e.payload["voided"],
            e.payload["customer_type"], e.occurred_at) for e in events]
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_importing_a_vendor_export_again_adds_nothing(fake_store, name):
    run(fake_store, name)
    again = run(fake_store, name)
    assert (again.accepted, again.duplicates) == (0, len(EXPECTED[name]))


def test_lines_without_an_id_are_numbered_per_package_within_the_transaction(fake_store):
    run(fake_store, "dutchie")
    keys = [e.natural_key for e in fake_store.events[LICENSE.number]][:3]
    assert keys == [f"pos_sale_line:100041:{tag}" for tag in (f"{GUMMIES}#1", f"{FLOWER}#1",
                                                              f"{GUMMIES}#2")]


def test_money_written_with_a_dollar_sign_and_thousands_separator_is_read(fake_store):
    run(fake_store, "dutchie")
    vape = fake_store.events[LICENSE.number][3]
    assert vape.payload["total_price"] == 1040.0


def dutchie_with_times(*times: str) -> bytes:
    lines = (EXPORTS / "dutchie-sales.csv").read_text().splitlines()
    row = lines[1]
    return "\n".join([lines[0], *(row.replace("100041", f"T{n}").replace(
        "01/05/2026 2:15 PM", when) for n, when in enumerate(times))]).encode()


def test_dst_ambiguous_and_missing_local_times_are_rejected_with_their_rows(fake_store):
    data = dutchie_with_times("03/08/2026 1:59 AM",   # line 2: fine, PST
                              "03/08/2026 2:30 AM",   # line 3: skipped by spring-forward
                              "11/01/2026 1:30 AM",   # line 4: happens twice at fall-back
                              "11/01/2026 2:30 AM")   # line 5: fine, PST again
    summary = run(fake_store, "dutchie", data)
    assert summary.accepted == 2
    assert [r.line for r in summary.rejections] == [3, 4]
    missing, ambiguous = (r.reason for r in summary.rejections)
    assert "'03/08/2026 2:30 AM' does not exist" in missing and "America/Los_Angeles" in missing
    assert "'11/01/2026 1:30 AM' is ambiguous" in ambiguous
    times = [e.occurred_at for e in fake_store.events[LICENSE.number]]
    assert times == [datetime(2026, 3, 8, 9, 59, tzinfo=UTC),
                     datetime(2026, 11, 1, 10, 30, tzinfo=UTC)]


def test_a_time_with_an_offset_is_taken_as_is(fake_store):
    summary = run(fake_store, "dutchie", dutchie_with_times("2026-11-01T01:30:00-07:00"))
    assert summary.accepted == 1
    assert fake_store.events[LICENSE.number][0].occurred_at == datetime(2026, 11, 1, 8, 30,
                                                                         tzinfo=UTC)


def test_a_time_in_no_known_format_names_the_formats(fake_store):
    summary = run(fake_store, "dutchie", dutchie_with_times("5 Jan 2026"))
    (rejection,) = summary.rejections
    assert rejection.line == 2 and "matches none of the profile's time formats" in rejection.reason


def test_an_export_missing_a_mapped_column_is_refused_whole(fake_store):
    text = (EXPORTS / "dutchie-sales.csv").read_text().replace("Package ID", "Package")
    with pytest.raises(FileRejected, match="missing columns: Package ID"):
        run(fake_store, "dutchie", text.encode())
    assert not fake_store.events.get(LICENSE.number)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "store.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ('name = "x"\nformat = "pos-sales"\n', "columns: is required"),
    ('name = "x"\nformat = "pos-sales"\ncolums = {}\n', "colums: unknown key"),
    ('name = "x"\nformat = "pos-sales"\n[columns]\nquantity = 3\n', "columns.quantity: must be"),
    ('name = "x"\nformat = "pos-sales"\n[columns]\nqty = "Qty"\n', "qty: not a field of"),
    ('name = "x"\nformat = "pos-sales"\nreturn_quantity_sign = "up"\n[columns]\n',
     "return_quantity_sign: must be one of"),
    ('name = "x"\nformat = "pos-sales"\n[columns]\n[void]\ncolumn = "S"\n',
     "void.values: must list at least one value"),
    ('name = "x"\nformat = "counts"\n[columns]\n', "the profile is for 'counts'"),
    ("name = [", "not a valid TOML file"),
])
def test_a_store_profile_with_a_mistake_names_the_file_and_the_key(fake_store, tmp_path, text,
                                                                   message):
    path = write(tmp_path, text)
    with pytest.raises(InvalidInput, match=message) as raised:
        run(fake_store, "dutchie", profile=load_profile(str(path)))
    assert str(path) in str(raised.value)


def test_a_store_profile_maps_a_cycle_count_export(fake_store, tmp_path):
    profile = load_profile(str(write(tmp_path, """
name = "my-counts"
format = "counts"
time_formats = ["%m/%d/%Y %H:%M"]
[columns]
count_id = "Count #"
counted_at = "Counted"
package_label = "Tag"
counted_quantity = "On Hand"
unit = "UoM"
location = "Room"
[units]
"ct" = "Each"
""")))
    data = (f"Count #,Counted,Room,Tag,On Hand,UoM,Notes\n"
            f"CC-9,01/05/2026 09:30,Vault,{GUMMIES},12,ct,shelf B\n").encode()
    summary = ingest(fake_store, LICENSE.number, "counts", "counts.csv", data, profile=profile)
    assert summary.accepted == 1, summary.rejections
    (event,) = fake_store.events[LICENSE.number]
    assert event.type == EventType.COUNT_LINE and event.payload["unit"] == "Each"
    assert event.occurred_at == datetime(2026, 1, 5, 17, 30, tzinfo=UTC)


def test_the_api_cannot_name_a_profile_file():
    with pytest.raises(InvalidInput, match="unknown profile"):
        load_profile("/etc/passwd", allow_files=False)


def test_a_profiled_export_is_stored_once_in_the_database(sql_store):
    first = run(sql_store, "dutchie")
    again = run(sql_store, "dutchie")
    assert (first.accepted, again.accepted, again.duplicates) == (5, 0, 5)
    assert sql_store.event_counts(LICENSE.number) == {"pos_sale_line": 5}
