"""Idempotency-Key: reserved before the import; one import for concurrent requests; crashes."""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from auditor.services.uploads import LEASE
from auditor.store.schema import events, idempotency_keys, imports
from tests.api.conftest import POS_HEADER, auth
from tests.conftest import LICENSE

CLIENTS = 12
URL = f"/licenses/{LICENSE.number}/imports?format=pos-sales"


def pos_file(rows: int = 200) -> bytes:
    return (POS_HEADER + "".join(
        f"K{i},1,2026-01-05T10:00:00-08:00,1A4FF0100000022000000123,SKU1,Gummies,"
        f"Edible,1,Each,10.00,10.00,Consumer,C1,ann,false\n" for i in range(rows))).encode()


def count(app: Flask, table: sa.Table) -> int:
    with app.extensions["auditor"]["store"].engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0


def post(app: Flask, data: bytes, key: str) -> tuple[int, dict]:
    secret = app.config["TEST_SECRETS"]["associate"]
    response = app.test_client().post(URL, headers=auth(secret, **{"Idempotency-Key": key}),
                                      data={"file": (io.BytesIO(data), "pos.csv")})
    return response.status_code, response.json


@pytest.mark.reliability
def test_12_concurrent_requests_with_one_key_make_one_import_and_share_its_answer(
        db_app: Flask, figure) -> None:
    data = pos_file()
    start = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict]] = []

    def client() -> None:
        start.wait()
        answers.append(post(db_app, data, "one-key"))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figure("idempotency: import records from 12 concurrent requests with one key",
           count(db_app, imports), of=1)
    assert [status for status, _ in answers] == [201] * CLIENTS, answers
    first = [body for _, body in answers if not body["replayed"]]
    assert len(first) == 1 and first[0]["accepted"] == 200
    for _, body in answers:
        assert {**body, "replayed": False} == first[0]  # the first answer, exactly
    assert count(db_app, imports) == 1 and count(db_app, events) == 200


def test_a_retry_after_a_crash_marks_the_interrupted_import_failed_and_completes_it(
        db_app: Flask) -> None:
    data = pos_file(50)
    done = post(db_app, data[: len(POS_HEADER) + 20 * (len(data) - len(POS_HEADER)) // 50],
                "other")  # 20 rows stored by an import that will look interrupted
    assert done[0] == 201
    engine = db_app.extensions["auditor"]["store"].engine
    crashed_at = datetime.now(UTC) - LEASE - timedelta(minutes=1)
    with engine.begin() as conn:  # what a process killed mid-import leaves behind
        conn.execute(sa.update(imports).values(status="running", sha256=hashlib.sha256(
            data).hexdigest(), started_at=crashed_at))
        conn.execute(sa.insert(idempotency_keys).values(
            license_id=1, key="crashed", request_sha256=hashlib.sha256(
                b"pos-sales\x1fpos.csv\x1f" + data).hexdigest(), response={},
            created_at=crashed_at, status="pending"))
    status, body = post(db_app, data, "crashed")
    assert status == 201 and body["replayed"] is False
    assert body["resumed_after"] == [done[1]["import_id"]]
    assert (body["accepted"], body["duplicates"]) == (30, 20)
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(imports.c.id, imports.c.status)).all())
    assert states == {done[1]["import_id"]: "failed", body["import_id"]: "completed"}
    again = post(db_app, data, "crashed")
    assert again == (201, {**body, "replayed": True})


def test_a_key_in_progress_elsewhere_answers_409_after_the_wait(db_app: Flask,
                                                                 monkeypatch) -> None:
    from auditor.services import uploads

    monkeypatch.setattr(uploads, "WAIT_SECONDS", 0.2)
    data = pos_file(5)
    engine = db_app.extensions["auditor"]["store"].engine
    with engine.begin() as conn:  # a live request holds the key
        conn.execute(sa.insert(idempotency_keys).values(
            license_id=1, key="busy", request_sha256=hashlib.sha256(
                b"pos-sales\x1fpos.csv\x1f" + data).hexdigest(), response={},
            created_at=datetime.now(UTC), status="pending"))
    status, body = post(db_app, data, "busy")
    assert status == 409 and "still in progress" in body["message"]
    assert count(db_app, imports) == 0


def test_a_refused_file_releases_its_key(db_app: Flask) -> None:
    assert post(db_app, b"not,a,pos,file\n", "k")[0] == 422
    assert post(db_app, pos_file(3), "k")[0] == 201
