"""Bodies over the API's limits are refused with 413 before anything is read into the store."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.api.conftest import auth, pos_csv
from tests.conftest import LICENSE
from tests.reliability.conftest import rows_held

LIC = LICENSE.number
SHAPE = {"code", "status", "message"}


def over_limit(app: Flask) -> int:
    return int(app.config["MAX_CONTENT_LENGTH"]) + 1024


def upload(app: Flask, body: bytes, content_type: str):
    secret = app.config["TEST_SECRETS"]["associate"]
    return app.test_client().post(f"/licenses/{LIC}/imports?format=pos-sales",
                                  headers=auth(secret), data=body, content_type=content_type)


def oversized_file(app: Flask):
    """A valid POS export padded past the limit with more valid-looking lines."""
    line = pos_csv("R1").split(b"\n", 1)[1]
    data = pos_csv("R0") + line * (over_limit(app) // len(line) + 1)
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename="p.csv")})
    return upload(app, body, f"multipart/form-data; boundary={boundary}")


def too_many_parts(app: Flask):
    """A small multipart body with more form parts than the server reads."""
    parts = {f"field{i}": "x" for i in range(int(app.config.get("MAX_FORM_PARTS") or 1000) + 1)}
    boundary, body = encode_multipart(
        {**parts, "file": FileStorage(io.BytesIO(pos_csv("R9")), filename="p.csv")})
    return upload(app, body, f"multipart/form-data; boundary={boundary}")


def oversized_json(app: Flask):
    secret = app.config["TEST_SECRETS"]["compliance_officer"]
    body = b'{"from": "2026-01-01", "to": "2026-01-10", "pad": "' + b"x" * over_limit(app) + b'"}'
    return app.test_client().post(f"/licenses/{LIC}/audits", headers=auth(secret), data=body,
                                  content_type="application/json")


@pytest.mark.reliability
def test_oversized_bodies_and_uploads_are_413_and_write_nothing(sql_app, figure):
    before = rows_held(sql_app)
    answers = {"upload over the size limit": oversized_file(sql_app),
               "upload with too many form parts": too_many_parts(sql_app),
               "JSON body over the size limit": oversized_json(sql_app)}
    written = rows_held(sql_app) - before
    refused = {name for name, r in answers.items()
               if r.status_code == 413 and set(r.get_json(silent=True) or {}) >= SHAPE}
    database = sql_app.extensions["auditor"]["store"].engine.dialect.name
    figure("oversized: answered 413 in the error shape", len(refused), of=len(answers),
           database=database)
    figure("oversized: rows written", written, database=database)
    assert refused == set(answers), {n: r.status_code for n, r in answers.items()}
    assert written == 0
