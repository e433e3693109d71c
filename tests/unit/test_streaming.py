"""Files are read as streams: same records at any chunk size, memory bounded by one record."""

import json
import tracemalloc
from pathlib import Path

import pytest

from auditor.domain.errors import FileRejected
from auditor.importers import json_stream
from auditor.importers.sources import csv_records, json_records, ndjson_records

ENVELOPE = ('{"Total": 3, "Page": 1,\n "Data": [\n'
            ' {"Id": 12345, "Note": "a \\"quoted\\" \\u00e9 note, with ] and }", "Q": 1.25e2},\n'
            ' {"Id": 2, "Lines": [{"Q": -3}, {"Q": 0.5}], "Ok": true, "None": null},\n\n'
            ' {"Id": 1234567890123}\n], "TotalPages": 1}')
ARRAY = '[\n  {"Label": "1A4"},\n  {"Label": "1A5", "Qty": 10},\n  {"Label": "1A6"}\n]\n'


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 11, 64])
@pytest.mark.parametrize("text", [ENVELOPE, ARRAY, '\n\n{"Id": 7,\n "Data2": [1, 2]}'])
def test_records_and_lines_do_not_depend_on_where_chunks_end(monkeypatch, text, chunk):
    whole = list(json_records(text.encode()))
    monkeypatch.setattr(json_stream, "CHUNK_CHARS", chunk)
    assert list(json_records(text.encode())) == whole
    document = json.loads(text)
    if isinstance(document, dict):
        document = document.get("Data", [document])
    assert [r for _, r in whole] == document


def test_envelope_lines_are_where_each_record_starts(monkeypatch):
    monkeypatch.setattr(json_stream, "CHUNK_CHARS", 4)
    assert [line for line, _ in json_records(ENVELOPE.encode())] == [3, 4, 6]


@pytest.mark.parametrize(("body", "line", "problem"), [
    ('[\n{"a": 1}\n{"a": 2}]', 3, "expected ']'"),
    ('[\n{"a": 1},\n{"a": tru}]', 3, "invalid JSON"),
    ('{"Data": [{"a": 1}], "Data2": }', 1, "invalid JSON"),
    ('{"Data": 5}', None, "Data must be a list"),
    ('[{"a": 1}] [', 1, "extra data"),
    ('[\n{"a": "never ends}]\n', 2, "Invalid control character"),
])
def test_broken_structure_is_refused_whole_naming_the_line(monkeypatch, body, line, problem):
    monkeypatch.setattr(json_stream, "CHUNK_CHARS", 3)
    with pytest.raises(FileRejected, match=problem) as caught:
        json_records(body.encode())
    assert caught.value.line == line


def test_a_record_past_the_size_cap_is_refused(monkeypatch):
    monkeypatch.setattr(json_stream, "CHUNK_CHARS", 16)
    monkeypatch.setattr(json_stream, "MAX_RECORD_CHARS", 100)
    with pytest.raises(FileRejected, match="larger than"):
        json_records(('[{"a": "' + "x" * 500 + '"}]').encode())


def write_receipts(path: Path, count: int) -> None:
    with path.open("w") as out:
        out.write('{"Data": [\n')
        for n in range(count):
            out.write(("," if n else "") + json.dumps({
                "Id": n, "SalesDateTime": "2026-01-05T10:00:00", "Note": "x" * 200,
                "Transactions": [{"PackageLabel": f"1A4{n:021d}", "QuantitySold": 1}] * 3}) + "\n")
        out.write("]}\n")


def peak_bytes(read) -> int:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read())
        assert count > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_a_large_json_file_holds_one_chunk_and_one_record(tmp_path, monkeypatch):
    monkeypatch.setattr(json_stream, "CHUNK_CHARS", 1 << 16)  # the window, 64 K characters
    path = tmp_path / "receipts.json"
    write_receipts(path, 25_000)              # about 12 MB
    assert path.stat().st_size > 10_000_000
    assert peak_bytes(lambda: json_records(path)) < 1_000_000


def test_reading_a_large_csv_or_ndjson_file_holds_one_line(tmp_path):
    csv_path, ndjson_path = tmp_path / "big.csv", tmp_path / "big.ndjson"
    row = "R1,2026-01-05T10:00:00-08:00," + "y" * 200 + "\n"
    csv_path.write_text("a,b,c\n" + row * 45_000)                   # about 11 MB
    ndjson_path.write_text(json.dumps({"a": "z" * 200}) + "\n" * 1 + (
        json.dumps({"a": "z" * 200}) + "\n") * 45_000)
    assert peak_bytes(lambda: csv_records(csv_path, ("a", "b", "c"))) < 1_000_000
    assert peak_bytes(lambda: ndjson_records(ndjson_path)) < 1_000_000


def test_bad_utf8_far_into_a_streamed_file_names_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 50_000 + b"3,\xff\n")
    with pytest.raises(FileRejected, match="not valid UTF-8") as caught:
        csv_records(path, ("a", "b"))
    assert caught.value.line == 50_002
