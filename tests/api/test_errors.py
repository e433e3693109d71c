"""Bad input gets a clear error in the one error shape and writes nothing."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import auth, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number
SHAPE = {"code", "status", "message"}


def events(client: FlaskClient, secret: str) -> int:
    return len(client.get(f"/licenses/{LIC}/events", headers=auth(secret)).json["items"])


def test_unknown_fields_and_wrong_types_are_422_with_field_errors(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    response = client.post(f"/licenses/{LIC}/audits", headers=auth(secrets["compliance_officer"]),
                           json={"from": "yesterday", "to": "2026-01-10", "extra": 1})
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"from", "extra"}


def test_malformed_json_is_an_error_in_the_shape(client: FlaskClient,
                                                 secrets: dict[str, str]) -> None:
    response = client.post(f"/licenses/{LIC}/audits", data=b'{"from": ',
                           content_type="application/json",
                           headers=auth(secrets["compliance_officer"]))
    assert response.status_code in (400, 422) and set(response.json) >= SHAPE


def test_404_405_401_all_in_the_shape(client: FlaskClient, secrets: dict[str, str]) -> None:
    assert set(client.get("/nowhere", headers=auth(secrets["admin"])).json) >= SHAPE
    wrong = client.delete("/licenses", headers=auth(secrets["admin"]))
    assert wrong.status_code == 405 and set(wrong.json) >= SHAPE
    nobody = client.get("/licenses", headers=auth("aud_not-a-token"))
    assert nobody.status_code == 401 and set(nobody.json) >= SHAPE


def test_an_oversized_upload_is_413_and_writes_nothing(app: Flask, client: FlaskClient,
                                                       secrets: dict[str, str]) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024
    big = pos_csv("R1") + b"x" * 2048
    response = client.post(f"/licenses/{LIC}/imports?format=pos-sales",
                           headers=auth(secrets["associate"]),
                           data={"file": (io.BytesIO(big), "p.csv")})
    assert response.status_code == 413 and set(response.json) >= SHAPE
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    assert events(client, secrets["associate"]) == 0


def test_a_broken_file_is_refused_whole(client: FlaskClient, secrets: dict[str, str]) -> None:
    response = client.post(f"/licenses/{LIC}/imports?format=pos-sales",
                           headers=auth(secrets["associate"]),
                           data={"file": (io.BytesIO(b"nope,header\n1,2\n"), "p.csv")})
    assert response.status_code == 422 and "nothing was imported" in response.json["message"]
    assert events(client, secrets["associate"]) == 0


def test_a_revoked_token_stops_working(app: Flask, client: FlaskClient,
                                       secrets: dict[str, str]) -> None:
    from datetime import UTC, datetime

    from auditor.store.api_sql import SqlTokens
    tokens = SqlTokens(app.extensions["auditor"]["store"].engine)
    viewer = next(t for t in tokens.list() if t.role == "viewer")
    tokens.revoke(viewer.id, datetime.now(UTC))
    assert client.get("/licenses", headers=auth(secrets["viewer"])).status_code == 401


def test_the_openapi_document_lists_every_route(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert "bearer" in spec["components"]["securitySchemes"]
    documented = {path for path in spec["paths"]}
    routes = {r.rule.replace("<string:", "{").replace("<int:", "{").replace(">", "}")
              for r in app.url_map.iter_rules() if r.endpoint not in ("static",)
              and not r.rule.startswith("/openapi")
              # the web console's pages and its front door at / are not the JSON API
              and not r.endpoint.startswith("console.") and r.endpoint != "front_door"}
    assert routes <= documented
