"""Uploads in the console: a job that streams the file, shows its progress, then every
rejected row; the staged copy goes when the import is over, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.services import jobs as jobs_module
from auditor.services import uploads
from auditor.services.job_ports import Job
from auditor.services.jobs import JobContext
from auditor.services.sync_ports import EndpointRun
from auditor.store.jobs_sql import SqlJobs
from auditor.store.uploads_sql import SqlStagedUploads, staged_uploads
from tests.conftest import LICENSE
from tests.console.conftest import form_token, signed_in
from tests.console.test_pages import wait_for_job

BASE = f"/console/licenses/{LICENSE.number}/imports"
HEADER = (b"receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
          b"unit,unit_price,total_price,customer_type,customer_id,employee,voided\n")


def sale(receipt: str, sold_at: str = "2026-01-06T10:00:00-08:00") -> bytes:
    return (f"{receipt},1,{sold_at},1A4FF0100000022000000123,SKU1,Gummies,Edible,1,Each,"
            "10.00,10.00,Consumer,C1,ann,false\n").encode()


# Four rows: the third (file line 4) has no valid time.
BODY = HEADER + sale("U1") + sale("U2") + sale("U3", "not a time") + sale("U4")


def send(client: FlaskClient, body: bytes, form_id: str = "form-1",
         fmt: str = "pos-sales", name: str = "pos.csv") -> Any:
    token = form_token(client, BASE)
    return client.post(BASE, data={"csrf_token": token, "format": fmt, "upload_id": form_id,
                                   "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")


def staged_pieces(app: Flask) -> int:
    engine = app.extensions["auditor"]["store"].engine
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(staged_uploads)).scalar_one())


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage uploads 64 bytes at a time, so a small file takes several pieces."""
    monkeypatch.setattr(uploads, "PIECE_BYTES", 64)


def test_an_upload_runs_as_a_job_then_lists_each_rejected_row(
        db_console_app: Flask, small_pieces: None) -> None:
    associate = signed_in(db_console_app, "associate")
    started = send(associate, BODY)
    assert started.status_code == 303 and "/console/jobs/" in started.location
    page = wait_for_job(associate, started.location).data.decode()
    assert "Import of pos.csv" in page
    assert "pos.csv: 4 rows read, 3 accepted, 0 already stored, 1 rejected" in page
    assert "<td>pos.csv</td><td>4</td><td>" in page and "sold_at" in page
    assert staged_pieces(db_console_app) == 0  # the staged copy went with the import
    rejected = associate.get(started.location + "/rejections.csv")
    assert rejected.status_code == 200 and rejected.mimetype == "text/csv"
    lines = rejected.data.decode().splitlines()
    assert lines[0] == "file,line,reason" and lines[1].startswith("pos.csv,4,")
    assert len(lines) == 2


def test_a_file_name_that_a_spreadsheet_would_run_is_written_as_text(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    started = send(associate, BODY, name="=HYPERLINK(1).csv")
    wait_for_job(associate, started.location)
    rejected = associate.get(started.location + "/rejections.csv").data.decode()
    assert rejected.splitlines()[1].startswith("'=HYPERLINK(1).csv,4,")


def test_the_same_file_sent_again_stores_nothing_twice(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    first = wait_for_job(associate, send(associate, BODY).location).data.decode()
    assert "3 accepted, 0 already stored, 1 rejected" in first
    again = wait_for_job(associate, send(associate, BODY).location).data.decode()
    assert "0 accepted, 3 already stored, 1 rejected" in again


def test_a_bad_form_is_refused_naming_what_is_wrong(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    wrong = send(associate, BODY, fmt="pdf")
    assert wrong.status_code == 422 and b"format &#39;pdf&#39; is not one of" in wrong.data
    empty = send(associate, b"", name="empty.csv")
    assert empty.status_code == 422 and b"empty.csv is empty" in empty.data
    assert staged_pieces(console_app) == 0
    viewer = signed_in(console_app, "viewer")
    assert send(viewer, BODY).status_code == 403


def test_a_file_that_cannot_be_read_fails_its_job_with_the_reason(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    started = send(associate, b"just,some,columns\n1,2,3\n", name="odd.csv")
    page = wait_for_job(associate, started.location).data.decode()
    assert "The import failed:" in page and "nothing was imported from this file" in page
    assert staged_pieces(console_app) == 0


def test_the_job_reports_rows_read_and_accepted_as_it_goes(
        sql_settings: Settings, monkeypatch: pytest.MonkeyPatch, small_pieces: None) -> None:
    monkeypatch.setattr(jobs_module, "PROGRESS_SECONDS", 0.0)  # record every chunk
    store = open_store(replace(sql_settings), migrate=True)
    store.add_license(LICENSE)
    staged, records = SqlStagedUploads(store.engine), SqlJobs(store.engine)
    assert staged.put("u1", LICENSE.number, uploads._pieces(io.BytesIO(BODY)),
                      datetime.now(UTC)) == len(BODY)
    job = records.create(Job("j1", "import", LICENSE.number, "test", {
        "upload_id": "u1", "format": "pos-sales", "source": "pos.csv", "profile": None},
        "tester", "queued", datetime.now(UTC)))
    seen: list[tuple[int, int, str]] = []

    class Recording(SqlJobs):
        def progress(self, job_id: str, done: int, total: int, note: str,
                     at: datetime) -> None:
            seen.append((done, total, note))
            super().progress(job_id, done, total, note, at)

    result = uploads.import_staged(JobContext(job, Recording(store.engine)), store, staged, 2)
    assert result["rows_read"] == 4 and result["accepted"] == 3 and result["rejected"] == 1
    assert [s[0] for s in seen] == [2, 4, 4]  # after each chunk of two rows, then the end
    assert seen[0][0] < seen[0][1]  # the bar is not full while rows remain
    assert seen[0][2] == "2 rows read: 2 accepted, 0 already stored, 0 rejected"
    assert seen[-1] == (4, 4, "4 rows read: 3 accepted, 0 already stored, 1 rejected")
    assert list(staged.pieces("u1")) == []
    store.engine.dispose()


def test_staged_pieces_come_back_in_order_and_old_ones_are_dropped(
        sql_settings: Settings) -> None:
    store = open_store(replace(sql_settings), migrate=True)
    staged = SqlStagedUploads(store.engine)
    now = datetime.now(UTC)
    pieces = [bytes([n]) * 10 for n in range(12)]
    assert staged.put("new", LICENSE.number, iter(pieces), now) == 120
    staged.put("old", LICENSE.number, iter([b"x"]), now - timedelta(days=2))
    assert list(staged.pieces("new")) == pieces
    assert staged.drop_older(now - timedelta(days=1)) == 1
    assert list(staged.pieces("old")) == [] and len(list(staged.pieces("new"))) == 12
    store.engine.dispose()


def test_the_imports_page_shows_each_metrc_endpoints_sync_state(console_app: Flask) -> None:
    associate = signed_in(console_app, "associate")
    assert "Never synced" in associate.get(BASE).data.decode()
    sync_state = console_app.extensions["auditor"]["sync_state"]
    at = datetime(2026, 1, 6, 18, 0, tzinfo=UTC)
    sync_state.advance(LICENSE.number, EndpointRun("packages", synced_through=at), at)
    sync_state.advance(LICENSE.number, EndpointRun(
        "sales", status="failed", error="METRC answered 503"), at)
    rows = re.findall(r"<tr><td>(\w+)</td><td>([^<]*)</td><td>(.*?)</td></tr>",
                      associate.get(BASE).data.decode())
    assert rows[0][:2] == ("packages", "2026-01-06 10:00 PST")
    assert rows[0][2].startswith("ok at 2026-01-06 10:00 PST")
    assert rows[1][:2] == ("sales", "never") and "METRC answered 503" in rows[1][2]


def test_the_console_takes_files_over_the_api_limit_and_names_the_way_past_its_own(
        console_app: Flask) -> None:
    """An upload is streamed to storage, so the console's limit is its own (512 MB by
    default), not the API's 16 MiB; over it, the page says how to get the file in."""
    associate = signed_in(console_app, "associate")
    console_app.config["MAX_CONTENT_LENGTH"] = 1024  # the API's limit, here 1 KiB
    big = HEADER + b"".join(sale(f"B{n}") for n in range(40))  # about 4.5 KiB
    started = send(associate, big, form_id="form-big")
    assert started.status_code == 303
    assert "40 accepted" in wait_for_job(associate, started.location).data.decode()
    services = console_app.extensions["auditor"]
    services["settings"] = replace(services["settings"], console_upload_mb=1)
    # Encoded here, in memory: the test client would spool a body this large to a
    # temporary file that it leaves open when the server refuses the body unread.
    boundary, body = encode_multipart({
        "csrf_token": form_token(associate, BASE), "format": "pos-sales",
        "file": FileStorage(io.BytesIO(HEADER + sale("C1") * 12_000), "pos.csv")})
    refused = associate.post(BASE, data=body,
                             content_type=f"multipart/form-data; boundary={boundary}")
    page = refused.data.decode()
    assert refused.status_code == 413
    assert "upload limit of 1 MB" in page and "AUDITOR_CONSOLE_UPLOAD_MB" in page
    assert "auditor import" in page
