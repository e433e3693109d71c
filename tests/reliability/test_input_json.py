"""A corpus of malformed JSON through the API: no server error, nothing written, one shape.

Two doors take JSON: uploads of the JSON import formats (canonical events, METRC
payloads) and the JSON bodies of the API's own routes. Every case must be answered
below 500 and write no row. A refused request answers in the error shape; an upload
whose file is readable but whose records are all bad answers 201 with every record
rejected, each with its line and a reason.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import auth
from tests.conftest import LICENSE
from tests.reliability.conftest import rows_held

LIC = LICENSE.number
SHAPE = {"code", "status", "message"}
GOOD_EVENT = {"type": "move", "natural_key": "m-1", "occurred_at": "2026-01-05T10:00:00Z",
              "package_label": "1A4FF0100000022000000123",
              "payload": {"label": "1A4FF0100000022000000123", "to_location": "Vault"}}


KEYS = itertools.count(2)


def event(**changes: object) -> dict[str, object]:
    """Return the good canonical event, under a key of its own, with some fields changed."""
    return {**GOOD_EVENT, "natural_key": f"m-{next(KEYS)}", **changes}


def payload(**changes: object) -> dict[str, object]:
    return event(payload={**GOOD_EVENT["payload"], **changes})  # type: ignore[dict-item]


def dumps(value: object) -> bytes:
    return json.dumps(value).encode()


DEEP = 100_000
UPLOADS: dict[str, tuple[str, bytes]] = {
    "truncated array": ("events", dumps([GOOD_EVENT])[:-20]),
    "truncated envelope": ("metrc-packages", b'{"Data": [{"Label": "1A4FF01'),
    "truncated NDJSON line": ("events", dumps(GOOD_EVENT)[:-5] + b"\n"),
    "bad UTF-8 byte": ("events", dumps([GOOD_EVENT]).replace(b"Vault", b"Va\xffult")),
    "UTF-8 surrogate": ("metrc-packages", b'[{"Label": "\xed\xa0\x80"}]'),
    "UTF-16 file": ("events", json.dumps([GOOD_EVENT]).encode("utf-16")),
    "deep nesting": ("events", b"[" * DEEP + b"]" * DEEP),
    "deep nesting in a payload": ("events", dumps([GOOD_EVENT])[:-3]
                                  + b', "x": ' + b"[" * DEEP + b"]" * DEEP + b"}}]"),
    "deep nesting in an NDJSON line": ("events", b'{"a": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    "NaN": ("metrc-packages", b'[{"Label": "1A4FF0100000022000000123", "Quantity": NaN}]'),
    "Infinity": ("events", dumps([GOOD_EVENT]).replace(b'"Vault"', b"Infinity")),
    "-Infinity in NDJSON": ("events", dumps(GOOD_EVENT).replace(b'"Vault"', b"-Infinity")),
    "number too large for a float": ("events", dumps([payload(quantity=1)])
                                     .replace(b'"quantity": 1', b'"quantity": 1e999')),
    "wrong type: time a number": ("events", dumps([event(occurred_at=1767607200)])),
    "wrong type: payload a string": ("events", dumps([event(payload="move")])),
    "wrong type: type a list": ("events", dumps([event(type=["move"])])),
    "wrong type: label an object": ("events", dumps([event(package_label={"a": 1})])),
    "wrong type: quantity text": ("metrc-packages", dumps([{
        "Label": "1A4FF0100000022000000123", "Quantity": "many", "UnitOfMeasureName": "Each",
        "LastModified": "2026-01-05T10:00:00Z"}])),
    "wrong type: Data not a list": ("metrc-packages", b'{"Data": {"Label": "x"}}'),
    "NUL character in a payload": ("events", dumps([payload(to_location="Va\x00ult")])),
    "extra field": ("events", dumps([event(extra=1)])),
    "extra payload field": ("events", dumps([payload(shelf="B2")])),
    "empty file": ("events", b""),
    "whitespace only": ("metrc-packages", b"  \n\t "),
    "non-object: number": ("metrc-packages", b"42"),
    "non-object: string": ("metrc-packages", b'"packages"'),
    "non-object: null": ("metrc-packages", b"null"),
    "non-object: array of scalars": ("events", b'[1, "two", null, true]'),
    "non-object: NDJSON scalars": ("events", b"1\n\"two\"\nnull\n"),
    "no time zone": ("events", dumps([event(occurred_at="2026-01-05T10:00:00")])),
}

JSON_BODIES: dict[str, tuple[str, bytes]] = {
    "truncated": ("audits", b'{"from": "2026-01-01", "to": '),
    "bad UTF-8": ("audits", b'{"from": "2026-01-01\xff", "to": "2026-01-10"}'),
    "deep nesting": ("audits", b'{"from": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    "NaN": ("licenses", b'{"number": "C10-1", "state": "CA", "timezone": NaN}'),
    "Infinity": ("audits", b'{"from": Infinity, "to": "2026-01-10"}'),
    "wrong types": ("licenses", b'{"number": 5, "state": ["CA"], "timezone": {}}'),
    "extra fields": ("licenses", dumps({"number": "C10-2", "state": "CA",
                                        "timezone": "America/Los_Angeles", "owner": "x"})),
    "empty body": ("audits", b""),
    "non-object": ("licenses", b'["C10-3", "CA"]'),
    "null": ("audits", b"null"),
}


def well_formed_refusal(response) -> bool:
    """Say whether an answer refuses in the shape: an error, or every record rejected."""
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return False
    if response.status_code >= 400:
        return set(body) >= SHAPE and isinstance(body["message"], str)
    rejections = body.get("rejections") or []
    return (response.status_code == 201 and body["accepted"] == 0
            and body["events_added"] == 0 and body["rejected"] == body["rows_read"] > 0
            and all(isinstance(r["line"], int) and r["line"] >= 1 and r["reason"]
                    for r in rejections))


def post_upload(client: FlaskClient, secret: str, fmt: str, data: bytes):
    return client.post(f"/licenses/{LIC}/imports?format={fmt}", headers=auth(secret),
                       data={"file": (io.BytesIO(data), "corpus.json")})


def post_json(client: FlaskClient, secrets: dict[str, str], route: str, data: bytes):
    path, secret = {"audits": (f"/licenses/{LIC}/audits", secrets["compliance_officer"]),
                    "licenses": ("/licenses", secrets["admin"])}[route]
    return client.post(path, data=data, content_type="application/json",
                       headers=auth(secret))


@pytest.mark.reliability
@pytest.mark.slow
def test_a_malformed_json_corpus_gets_no_server_error_and_writes_nothing(
        sql_app, sql_client, figure):
    secrets = sql_app.config["TEST_SECRETS"]
    before = rows_held(sql_app)
    answers = {f"upload: {name}": post_upload(sql_client, secrets["associate"], fmt, data)
               for name, (fmt, data) in UPLOADS.items()}
    answers |= {f"body: {name}": post_json(sql_client, secrets, route, data)
                for name, (route, data) in JSON_BODIES.items()}
    written = rows_held(sql_app) - before
    server_errors = sorted(name for name, r in answers.items() if r.status_code >= 500)
    misshapen = sorted(name for name, r in answers.items() if not well_formed_refusal(r))
    database = sql_app.extensions["auditor"]["store"].engine.dialect.name
    figure("input-json: server errors", len(server_errors), of=len(answers), database=database)
    figure("input-json: rows written", written, database=database)
    figure("input-json: answers in the error shape", len(answers) - len(misshapen),
           of=len(answers), database=database)
    assert server_errors == []
    assert misshapen == [], {name: answers[name].get_json(silent=True) for name in misshapen}
    assert written == 0


# Canonical payload values are typed at import by their field's declared kind: a
# quantity "lots" would otherwise be stored and judged as no quantity at all.
UNTYPED_PAYLOADS = {"payload quantity text": payload(quantity="lots"),
                    "payload label a number": payload(label=7)}


@pytest.mark.reliability
@pytest.mark.parametrize("name", sorted(UNTYPED_PAYLOADS))
def test_a_canonical_payload_of_the_wrong_type_is_rejected(name, sql_app, sql_client):
    response = post_upload(sql_client, sql_app.config["TEST_SECRETS"]["associate"], "events",
                           dumps([UNTYPED_PAYLOADS[name]]))
    assert well_formed_refusal(response) and response.json["events_added"] == 0


@pytest.mark.reliability
def test_the_good_event_of_the_corpus_is_accepted(sql_app, sql_client):
    """The corpus's refusals mean something only if its good record gets in."""
    response = post_upload(sql_client, sql_app.config["TEST_SECRETS"]["associate"], "events",
                           dumps([GOOD_EVENT]))
    assert response.status_code == 201 and response.json["events_added"] == 1
