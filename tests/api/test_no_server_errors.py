"""Hostile input gets a 4xx naming the field, never a 500, and no answer shows a server path."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from auditor.rules.loader import default_rules_dir
from tests.api.conftest import auth, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number
SURROGATE = "id: \ud800x"
SEED = (default_rules_dir() / "core" / "tag-invalid.yaml").read_text()
EXTREMES = ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"]
# Times whose conversion to UTC would leave Python's calendar, and ones just outside ours.
INSTANTS = {"0001-01-01": "0001-01-01T00:00:00%2B14:00", "9999-12-31": "9999-12-31T23:59:59-14:00",
            "1999-12-31": "1999-12-31T12:00:00Z", "2101-01-01": "2101-01-01T12:00:00Z"}


def officer(secrets: dict[str, str]) -> dict[str, str]:
    return auth(secrets["compliance_officer"])


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/rule-validations"), ("PUT", "/rules/tag-invalid"),
    ("POST", f"/licenses/{LIC}/backtests")])
def test_a_lone_surrogate_in_a_draft_is_refused_naming_the_yaml_field(
        db_app: Flask, method: str, path: str) -> None:
    client, secrets = db_app.test_client(), db_app.config["TEST_SECRETS"]
    body = {"yaml": SURROGATE, "from": "2026-01-01", "to": "2026-01-02"}
    if not path.endswith("backtests"):
        body = {"yaml": SURROGATE}
    response = client.open(path, method=method, json=body,
                           headers={**officer(secrets), "If-Match": "*"})
    assert response.status_code == 422, response.json
    assert "lone surrogate" in response.json["errors"]["json"]["yaml"][0]


@pytest.mark.parametrize("day", EXTREMES)
def test_dates_outside_2000_to_2100_are_refused_naming_the_field(db_app: Flask,
                                                                   day: str) -> None:
    client, secrets = db_app.test_client(), db_app.config["TEST_SECRETS"]
    headers = officer(secrets)
    answers = {
        "audits": client.post(f"/licenses/{LIC}/audits", json={"from": day, "to": "2026-01-02"},
                              headers=headers),
        "backtests": client.post(f"/licenses/{LIC}/backtests", headers=headers,
                                 json={"yaml": SEED, "from": "2026-01-01", "to": day}),
        "reports": client.get(f"/licenses/{LIC}/reports/velocity?from={day}&to=2026-01-02",
                              headers=headers),
        "events": client.get(f"/licenses/{LIC}/events?from={INSTANTS[day]}", headers=headers),
    }
    for name, response in answers.items():
        assert response.status_code == 422, (name, response.json)
        located = response.json["errors"]
        field = "to" if name == "backtests" else "from"
        assert "must be between 2000-01-01 and 2100-12-31" in str(located), name
        assert field in next(iter(located.values())), name


def test_a_state_that_is_not_two_letters_is_refused_without_a_path(client: FlaskClient,
                                                                    secrets: dict[str, str]
                                                                    ) -> None:
    response = client.get("/rules?state=..", headers=officer(secrets))
    assert response.status_code == 422
    assert "/" not in response.get_data(as_text=True)
    assert client.get("/rules?state=ZZ", headers=officer(secrets)).status_code == 404


def test_a_rule_called_pack_cannot_be_validated_or_published(client: FlaskClient,
                                                             secrets: dict[str, str]) -> None:
    draft = SEED.replace("id: tag-invalid", "id: pack", 1)
    for method, path in (("POST", "/rule-validations"), ("PUT", "/rules/pack")):
        response = client.open(path, method=method, json={"yaml": draft},
                               headers={**officer(secrets), "If-Match": "*"})
        assert response.status_code == 422, response.json
        assert "may not be called 'pack'" in response.json["message"]
    assert client.get("/rules/pack", headers=officer(secrets)).status_code == 404


def server_paths(app: Flask, tmp_path: Path) -> list[str]:
    """Return the folders an answer must never name: code, rules, database, interpreter."""
    import api

    return [str(Path(api.__file__).resolve().parent.parent), str(default_rules_dir()),
            str(tmp_path), sys.prefix, "/tmp/", "/usr/", "/home/"]


BAD_REQUESTS = [
    ("GET", "/rules?state=..", None), ("GET", "/rules?state=../../etc", None),
    ("GET", "/rules/..%2Fcore%2Fpack", None), ("GET", "/rules/pack/diff?from=1&to=2", None),
    ("GET", "/rules/pack/versions/1", None), ("GET", "/rules/x/versions/999999999999", None),
    ("POST", "/rule-validations", {"yaml": "id: [unclosed"}),
    ("POST", "/rule-validations", {"yaml": "!!python/object:os.system x"}),
    ("POST", "/rule-validations", {"yaml": SURROGATE}),
    ("POST", "/rule-validations", {"yaml": SEED.replace("template: field_check", "template: x")}),
    ("PUT", "/rules/tag-invalid", {"yaml": SEED}),
    ("POST", f"/licenses/{LIC}/backtests", {"yaml": "id: x", "from": "2026-01-01",
                                            "to": "2026-01-02"}),
    ("POST", f"/licenses/{LIC}/audits", {"from": "2026-01-05", "to": "2026-01-01"}),
    ("POST", f"/licenses/{LIC}/imports?format=pos-sales", "file"),
    ("POST", f"/licenses/{LIC}/imports?format=metrc-receipts", "file"),
    ("GET", f"/licenses/{LIC}/reports/nothing?from=2026-01-01&to=2026-01-02", None),
    ("GET", "/licenses/..%2F..%2Fetc", None), ("GET", "/audits/nope/packet?format=pdf", None),
    ("GET", "/trail/verify?head=1:" + "z" * 64, None), ("POST", "/licenses", {"number": "/x"}),
]


@pytest.mark.reliability
def test_no_error_answer_names_a_server_path(app: Flask, client: FlaskClient,
                                              secrets: dict[str, str], tmp_path: Path) -> None:
    paths = server_paths(app, tmp_path)
    for role in ("compliance_officer", "associate", "admin"):
        for method, path, body in BAD_REQUESTS:
            data = {"file": (io.BytesIO(pos_csv("R1")[:-30] + b'"'), "p.csv")} \
                if body == "file" else None
            response = client.open(path, method=method, headers=auth(secrets[role]),
                                   json=None if body == "file" else body, data=data)
            text = response.get_data(as_text=True)
            assert response.status_code < 500, (role, path, text)
            assert not [p for p in paths if p in text], (role, path, text)
