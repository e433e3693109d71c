import pytest

from auditor.domain.errors import FileRejected, RowRejected
from auditor.importers import sources
from auditor.importers.sources import csv_records, json_records, ndjson_records


@pytest.fixture(autouse=True, params=["held", "streamed"])
def read_path(request, monkeypatch):
    """Run every case both ways: a small file read once and held, a large one read twice."""
    if request.param == "streamed":
        monkeypatch.setattr(sources, "HELD_BYTES", 0)


def test_envelope_records_carry_the_line_they_start_on():
    data = b'{"Total": 2,\n "Data": [\n  {"a": 1},\n\n  {"a": 2}\n ]}'
    assert list(json_records(data)) == [(3, {"a": 1}), (5, {"a": 2})]


def test_bare_array_and_single_object_are_both_records():
    assert list(json_records(b'[{"a": 1}, {"b": "x, ]"}]')) == [(1, {"a": 1}), (1, {"b": "x, ]"})]
    assert list(json_records(b'\n{"Id": 7}')) == [(2, {"Id": 7})]


def test_truncated_json_rejects_the_file_naming_the_line():
    with pytest.raises(FileRejected) as caught:
        json_records(b'[\n{"a": 1},\n{"a": ')
    assert caught.value.line == 3
    assert "nothing was imported" in str(caught.value)


@pytest.mark.parametrize("body", [b"[NaN]", b'[{"q": Infinity}]', b"[" * 100_000 + b"]" * 100_000,
                                  b"", b"  ", b"42"])
def test_json_that_is_not_a_list_of_records_is_refused(body):
    with pytest.raises(FileRejected):
        json_records(body)


def test_bad_utf8_names_its_line():
    with pytest.raises(FileRejected) as caught:
        json_records(b'[\n{"a": "ok"},\n{"a": "\xff"}]')
    assert caught.value.line == 3


def test_ndjson_rejects_only_the_bad_line():
    records = list(ndjson_records(b'{"a": 1}\n\n{"a": \n{"a": 3}\n'))
    assert records[0] == (1, {"a": 1})
    assert records[1][0] == 3 and isinstance(records[1][1], RowRejected)
    assert records[2] == (4, {"a": 3})


COLUMNS = ("a", "b")


def test_csv_tolerates_a_bom_and_columns_in_any_order():
    rows = list(csv_records("\ufeffb,a\r\n2,1\r\n".encode(), COLUMNS))
    assert rows == [(2, {"b": "2", "a": "1"})]


def test_csv_rows_are_numbered_from_where_they_start_and_blank_lines_skipped():
    rows = list(csv_records(b'a,b\n"multi\nline",1\n\n3,4\n', COLUMNS))
    assert [line for line, _ in rows] == [2, 5]


def test_csv_row_with_wrong_field_count_is_rejected_alone():
    rows = list(csv_records(b"a,b\n1,2,3\n4,5\n", COLUMNS))
    assert isinstance(rows[0][1], RowRejected) and "expected 2 fields, found 3" in str(rows[0][1])
    assert rows[1] == (3, {"a": "4", "b": "5"})


def test_unterminated_quote_rejects_the_whole_file_before_any_row():
    with pytest.raises(FileRejected) as caught:
        csv_records(b'a,b\n1,2\n3,"oops\n5,6\n', COLUMNS)
    assert caught.value.line == 3


@pytest.mark.parametrize("header, problem", [
    (b"a\n", "missing columns: b"),
    (b"a,b,c\n", "unknown columns: c"),
    (b"a,a,b\n", "repeats"),
])
def test_csv_header_must_name_exactly_the_format_columns(header, problem):
    with pytest.raises(FileRejected, match=problem):
        csv_records(header + b"1,2\n", COLUMNS)


def test_empty_csv_asks_for_a_header():
    with pytest.raises(FileRejected, match="header row is required"):
        csv_records(b"\n", COLUMNS)
