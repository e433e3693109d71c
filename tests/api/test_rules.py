"""Rule editing over the API: validate, backtest, publish a new version, read old ones, diff."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask.testing import FlaskClient

from auditor.rules.loader import default_rules_dir
from tests.api.conftest import POS_HEADER, audit_run, auth, job_result, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number
SEED = (default_rules_dir() / "core" / "pos-sale-unreported.yaml").read_text()
# Three days to report instead of 24 h: the sale of the 9th is then still pending on the 10th.
SHIPPED = int(re.search(r"^version: (\d+)$", SEED, re.M)[1])  # the seed's version
NEXT = SHIPPED + 1
DRAFT = SEED.replace(f"version: {SHIPPED}", f"version: {NEXT}", 1).replace(
    "deadline: $sale_report_window", "deadline: P3D")


def sales(client: FlaskClient, secrets: dict[str, str]) -> None:
    body = pos_csv("R1", day=5) + pos_csv("R2", day=9)[len(POS_HEADER):]
    response = client.post(f"/licenses/{LIC}/imports?format=pos-sales",
                           headers=auth(secrets["associate"]),
                           data={"file": (io.BytesIO(body), "p.csv")})
    assert response.json["accepted"] == 2


def test_a_draft_is_backtested_then_published_and_old_versions_stay_readable(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    officer = auth(secrets["compliance_officer"])
    sales(client, secrets)
    before = audit_run(client, secrets["compliance_officer"])
    assert before["counts"]["by_rule"]["pos-sale-unreported"] == 2

    checked = client.post("/rule-validations", json={"yaml": DRAFT}, headers=officer)
    assert checked.json["version"] == NEXT
    started = client.post(f"/licenses/{LIC}/backtests", headers=officer,
                          json={"yaml": DRAFT, "from": "2026-01-01", "to": "2026-01-10"})
    test = job_result(client, started, secrets["compliance_officer"])
    assert [f["subject"] for f in test["removed"]] == ["R2"]
    assert (test["added"], test["unchanged"]) == ([], 0)
    [changed] = test["changed"]  # the same finding: its message names the new window
    assert "within the 24 h reporting window" in changed["before"]["message"]
    assert "within the 3 days reporting window" in changed["after"]["message"]

    current = client.get("/rules/pos-sale-unreported", headers=officer)
    published = client.put("/rules/pos-sale-unreported", json={"yaml": DRAFT},
                           headers={**officer, "If-Match": current.headers["ETag"]})
    assert published.status_code == 200 and published.json["version"] == NEXT
    again = client.put("/rules/pos-sale-unreported", json={"yaml": DRAFT},
                       headers={**officer, "If-Match": current.headers["ETag"]})
    assert again.status_code == 412  # a lost update is refused

    old = client.get(f"/rules/pos-sale-unreported/versions/{SHIPPED}", headers=officer).json
    assert old["yaml"] == SEED
    diff = client.get(f"/rules/pos-sale-unreported/diff?from={SHIPPED}&to={NEXT}",
                      headers=officer).json["diff"]
    assert "-  deadline: $sale_report_window" in diff and "+  deadline: P3D" in diff

    after = audit_run(client, secrets["compliance_officer"])
    assert after["counts"]["by_rule"]["pos-sale-unreported"] == 1
    first = client.get(f"/audits/{before['run_id']}/findings?rule=pos-sale-unreported",
                       headers=officer).json["items"]
    assert {f["rule_version"] for f in first} == {SHIPPED}  # the earlier run keeps its own


def test_an_invalid_draft_names_the_rule_and_field(client: FlaskClient,
                                                   secrets: dict[str, str]) -> None:
    bad = SEED.replace("severity: critical", "severity: dire")
    response = client.post("/rule-validations", json={"yaml": bad},
                           headers=auth(secrets["compliance_officer"]))
    assert response.status_code == 422 and "severity" in response.json["message"]
    assert str(Path("/tmp")) not in response.json["message"]


def test_the_pack_file_is_not_a_rule(client: FlaskClient, secrets: dict[str, str]) -> None:
    # Schemathesis found this: rules/core/pack.yaml was read as the seed of a rule "pack".
    officer = auth(secrets["compliance_officer"])
    assert client.get("/rules/pack/diff?from=1&to=1", headers=officer).status_code == 404
    assert client.get("/rules/pack/versions/1", headers=officer).status_code == 404
