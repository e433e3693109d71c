"""GET /audits/{run} carries the run's finding rate (`activity`), as `auditor audit --json`."""

from __future__ import annotations

import io

from flask import Flask

from auditor.bootstrap import open_store
from auditor.config import Settings
from tests.api.conftest import audit_run, auth, pos_csv
from tests.conftest import LICENSE


def test_a_run_resource_carries_its_finding_rate_and_the_change_since_the_run_before(
        db_app: Flask, sql_settings: Settings) -> None:
    client, secrets = db_app.test_client(), db_app.config["TEST_SECRETS"]
    associate, officer = secrets["associate"], secrets["compliance_officer"]
    body = pos_csv("R1") + pos_csv("R2").split(b"\n", 1)[1]
    uploaded = client.post(f"/licenses/{LICENSE.number}/imports?format=pos-sales",
                           headers=auth(associate), data={"file": (io.BytesIO(body), "p.csv")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 201, uploaded.json
    first = audit_run(client, officer)["run_id"]
    second = audit_run(client, officer)["run_id"]

    read = client.get(f"/audits/{second}", headers=auth(officer))
    assert read.status_code == 200
    activity = read.json["activity"]
    store = open_store(sql_settings)
    stored = store.runs.get(second)["activity"]  # as `auditor audit --json` gives it
    store.engine.dispose()
    assert activity == stored
    assert activity["events"] == 2
    by_rule = read.json["counts"]["by_rule"]
    assert by_rule, "two sales never reported to METRC are found"
    assert activity["findings_per_1000_events"] == 1000 * sum(by_rule.values()) / 2
    assert activity["per_rule_per_1000_events"] == {rule: 1000 * n / 2
                                                    for rule, n in by_rule.items()}
    assert activity["previous"]["run_id"] == first and activity["change"] == 0.0
    before = client.get(f"/audits/{first}", headers=auth(officer)).json["activity"]
    assert before["previous"] is None and before["change"] is None


def test_the_openapi_document_describes_the_finding_rate_of_a_run(db_app: Flask) -> None:
    schemas = db_app.test_client().get("/openapi.json").json["components"]["schemas"]
    run = schemas["Run"]["properties"]
    assert run["activity"]["$ref"].endswith("/Activity")
    activity = schemas["Activity"]["properties"]
    assert {"events", "findings_per_1000_events", "per_rule_per_1000_events", "previous",
            "change"} <= set(activity)
    assert activity["findings_per_1000_events"]["type"] == ["number", "null"] or \
        activity["findings_per_1000_events"].get("nullable") is True
