"""A corpus of malformed CSV through the API: every row accounted for, every rejection placed.

Each case knows how many records it holds and which physical lines are bad. A file
the importer must refuse whole (broken structure, wrong header, bad encoding) answers
422 in the error shape and writes nothing; any other file answers 201 with rows in =
accepted + rejected, a rejection for exactly the bad lines, each with a reason, and
the accepted rows stored as sent (formula-looking text included: it is neutralised
where it is exported, never altered in the record).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from auditor.importers.store_csv import POS_SALES
from auditor.store.schema import events
from tests.api.conftest import auth
from tests.conftest import LICENSE
from tests.reliability.conftest import rows_held

LIC = LICENSE.number
SHAPE = {"code", "status", "message"}
LARGE = 100_000  # about 13 MB: under the API's 16 MB limit (a 1M-row file is a 413)
GOOD = {"receipt_id": "R", "line_id": "1", "sold_at": "2026-01-05T10:00:00-08:00",
        "package_label": "1A4FF0100000022000000123", "sku": "SKU1", "product_name": "Gummies",
        "category": "Edible", "quantity": "1", "unit": "Each", "unit_price": "10.00",
        "total_price": "10.00", "customer_type": "Consumer", "customer_id": "C1",
        "employee": "ann", "voided": "false"}
FORMULAS = {"product_name": '=HYPERLINK("http://evil.example/x","Gummies")',
            "employee": "+1+1", "customer_id": "@SUM(A1:A9)", "sku": "-2+3"}


def line(receipt: str, columns: tuple[str, ...] = POS_SALES, **values: str) -> str:
    """Return one CSV line of a POS sale, quoted as needed, with some values changed."""
    out = io.StringIO()
    row = {**GOOD, "receipt_id": receipt, **values}
    csv.writer(out, lineterminator="\n").writerow([row.get(name, "") for name in columns])
    return out.getvalue()


HEADER = ",".join(POS_SALES) + "\n"


@dataclass
class Case:
    """A file, and what the importer must make of it."""

    data: bytes
    records: int = 0  # data records in the file
    bad_lines: list[int] = field(default_factory=list)  # physical lines to be rejected
    refused: bool = False  # the whole file is refused
    formulas: bool = False  # accepted rows carry formula-looking text


def good_rows(count: int, prefix: str) -> str:
    return "".join(line(f"{prefix}{i}") for i in range(count))


def large_case() -> Case:
    bad = set(range(2, LARGE + 2, 997))  # every 997th line has a quantity that is no number
    lines = [line(f"L{n}", quantity="many" if n in bad else "1") for n in range(2, LARGE + 2)]
    return Case((HEADER + "".join(lines)).encode(), LARGE, sorted(bad))


CASES: dict[str, Case] = {
    "BOM before the header": Case(b"\xef\xbb\xbf" + (HEADER + good_rows(2, "B")).encode(), 2),
    "unterminated quote": Case((HEADER + line("Q1") + 'Q2,1,"2026-01-05T10:00\n'
                                + line("Q3")).encode(), refused=True),
    "NUL byte in a field": Case((HEADER + line("N1") + line("N2", product_name="Gum\x00mies")
                                 + line("N3")).encode(), 3, [3]),
    "wrong header": Case(b"receipt,line,when\n1,2,3\n", refused=True),
    "a column missing from the header": Case(
        (",".join(POS_SALES[:-1]) + "\n" + line("M1", POS_SALES[:-1])).encode(), refused=True),
    "a header naming a column twice": Case(
        (HEADER.rstrip("\n") + ",sku\n" + line("D1").rstrip("\n") + ",x\n").encode(),
        refused=True),
    "rows with too few and too many fields": Case(
        (HEADER + line("F1") + "F2,1,2026-01-05T10:00:00-08:00\n" + line("F3").rstrip("\n")
         + ",extra,fields\n" + line("F4")).encode(), 4, [3, 4]),
    "formula-prefixed cells": Case((HEADER + line("X1", **FORMULAS)
                                    + line("X2", product_name="=1+2")).encode(), 2,
                                   formulas=True),
    "a quoted newline, then a bad row": Case(
        (HEADER + line("Q1", product_name="Gummies\nsour") + line("Q2", quantity="x")
         + line("Q3")).encode(), 3, [4]),
    "CRLF line endings and blank lines": Case(
        (HEADER + line("C1") + "\n" + line("C2") + "\n\n" + line("C3", unit="Bushel"))
        .replace("\n", "\r\n").encode(), 3, [7]),
    "bad values": Case((HEADER + line("V1", quantity="abc") + line("V2", sold_at="2026-01-05")
                        + line("V3", sold_at="2026-01-05T10:00:00") + line("V4", voided="maybe")
                        + line("V5")).encode(), 5, [2, 3, 4, 5]),
    "header only": Case(HEADER.encode()),
    "empty file": Case(b"", refused=True),
    "Latin-1, not UTF-8": Case((HEADER + line("E1", product_name="Crème")).encode("latin-1"),
                               refused=True),
    "a field over the size limit": Case((HEADER + line("S1", product_name="x" * 200_000))
                                        .encode(), refused=True),
}


def post(client: FlaskClient, secret: str, data: bytes):
    """Upload data as the multipart field `file`, encoded in memory.

    (The test client would spool a large body to a temporary file it never closes.)
    """
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(data), filename="corpus.csv")})
    return client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secret),
                       data=body, content_type=f"multipart/form-data; boundary={boundary}")


def stored_count(app) -> int:
    with app.extensions["auditor"]["store"].engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(events)) or 0


def check(case: Case, response) -> list[str]:
    """Return what the answer gets wrong about the case (empty when all is right)."""
    body = response.get_json(silent=True) or {}
    if case.refused:
        return [] if response.status_code == 422 and set(body) >= SHAPE else [
            f"expected a 422 refusal, got {response.status_code} {body}"]
    if response.status_code != 201:
        return [f"expected 201, got {response.status_code} {body}"]
    problems = []
    accounted = body["accepted"] + body["rejected"] + body["duplicates"]
    if not body["rows_read"] == accounted == case.records:
        problems.append(f"{case.records} rows in, read {body['rows_read']}, "
                        f"accounted {accounted}")
    lines = sorted(r["line"] for r in body["rejections"])
    if lines != case.bad_lines:
        problems.append(f"rejected lines {lines[:10]}, expected {case.bad_lines[:10]}")
    if not all(r["reason"] for r in body["rejections"]):
        problems.append("a rejection without a reason")
    return problems


@pytest.mark.reliability
@pytest.mark.slow
def test_a_malformed_csv_corpus_accounts_for_every_row(sql_app, sql_client, figure):
    secret = sql_app.config["TEST_SECRETS"]["associate"]
    cases = {**CASES, "a large file with a bad row every 997": large_case()}
    problems: dict[str, list[str]] = {}
    rows_in = accounted = rejections = placed = server_errors = 0
    for name, case in cases.items():
        before, held = stored_count(sql_app), rows_held(sql_app)
        response = post(sql_client, secret, case.data)
        server_errors += response.status_code >= 500
        problems[name] = check(case, response)
        added = stored_count(sql_app) - before
        if case.refused and rows_held(sql_app) != held:
            problems[name].append("a refused file wrote rows")
        body = response.get_json(silent=True) or {}
        if response.status_code == 201:
            rows_in += case.records
            accounted += body["accepted"] + body["rejected"] + body["duplicates"]
            rejections += len(body["rejections"])
            placed += sum(bool(r["line"] and r["reason"]) for r in body["rejections"])
            if added != body["accepted"]:
                problems[name].append(f"{body['accepted']} accepted, {added} stored")
    database = sql_app.extensions["auditor"]["store"].engine.dialect.name
    figure("input-csv: rows accounted for (accepted + rejected)", accounted, of=rows_in,
           database=database, files=len(cases))
    figure("input-csv: rejections with line and reason", placed, of=rejections,
           database=database)
    figure("input-csv: server errors", server_errors, of=len(cases), database=database)
    assert {name: p for name, p in problems.items() if p} == {}
    assert server_errors == 0 and accounted == rows_in and placed == rejections


@pytest.mark.reliability
def test_formula_looking_cells_are_stored_exactly_as_sent(sql_app, sql_client):
    response = post(sql_client, sql_app.config["TEST_SECRETS"]["associate"],
                    (HEADER + line("X1", **FORMULAS)).encode())
    assert response.status_code == 201 and response.json["accepted"] == 1
    with sql_app.extensions["auditor"]["store"].engine.connect() as conn:
        payload = conn.scalar(sa.select(events.c.payload))
    assert {name: payload[name] for name in FORMULAS} == FORMULAS
