"""The issue's paragraph through the Flask test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from api.schemas import FindingPageSchema
from auditor.config import Settings
from auditor.services.api_ports import FindingQuery
from auditor.services.lifecycle import list_findings
from tests.api.conftest import audit_run, auth, make_app, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number


def upload(client, secret, body, key=None):
    headers = auth(secret, **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=headers,
                       data={"file": (io.BytesIO(body), "pos.csv")},
                       content_type="multipart/form-data")


def test_post_audit_page_acknowledge_waive_and_expire(sql_settings: Settings) -> None:
    app, secrets = make_app(sql_settings)
    client = app.test_client()
    associate, officer = secrets["associate"], secrets["compliance_officer"]

    first = upload(client, associate, pos_csv("R1") + pos_csv("R2").split(b"\n", 1)[1], "k1")
    assert first.status_code == 201, first.json
    assert first.json["accepted"] == 2 and first.json["replayed"] is False
    again = upload(client, associate, pos_csv("R1") + pos_csv("R2").split(b"\n", 1)[1], "k1")
    assert again.json["replayed"] is True and again.json["accepted"] == 2
    clash = upload(client, associate, pos_csv("R3"), "k1")
    assert clash.status_code == 409 and clash.json["code"] == 409
    events = client.get(f"/licenses/{LIC}/events?type=pos_sale_line", headers=auth(associate))
    assert len(events.json["items"]) == 2  # the replay and the clash wrote nothing

    run_id = audit_run(client, officer)["run_id"]
    page1 = client.get(f"/audits/{run_id}/findings?limit=1", headers=auth(officer)).json
    page2 = client.get(f"/audits/{run_id}/findings?limit=1&offset=1", headers=auth(officer)).json
    assert page1["next_offset"] == 1 and page1["items"][0]["status"] == "open"
    assert page1["items"][0]["id"] != page2["items"][0]["id"]
    finding_id = page1["items"][0]["id"]

    read = client.get(f"/findings/{finding_id}", headers=auth(associate))
    ack = client.patch(f"/findings/{finding_id}", json={"status": "acknowledged", "note": "seen"},
                       headers=auth(associate, **{"If-Match": read.headers["ETag"]}))
    assert ack.status_code == 200 and ack.json["status"] == "acknowledged"
    stale = client.patch(f"/findings/{finding_id}", json={"status": "resolved", "note": "x"},
                         headers=auth(officer, **{"If-Match": read.headers["ETag"]}))
    assert stale.status_code == 412
    missing = client.patch(f"/findings/{finding_id}", json={"status": "resolved", "note": "x"},
                           headers=auth(officer))
    assert missing.status_code == 428
    denied = client.patch(f"/findings/{finding_id}", json={"status": "resolved", "note": "x"},
                          headers=auth(associate, **{"If-Match": ack.headers["ETag"]}))
    assert denied.status_code == 403

    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    waive = client.patch(f"/findings/{finding_id}", headers=auth(
        officer, **{"If-Match": ack.headers["ETag"]}), json={
            "status": "waived", "note": "vendor outage",
            "waiver": {"justification": "METRC down that day", "expires_at": soon}})
    assert waive.status_code == 200, waive.json
    assert waive.json["status"] == "waived" and waive.json["actor"].startswith("token ")
    import time
    time.sleep(1.2)
    reopened = client.get(f"/findings/{finding_id}", headers=auth(officer)).json
    assert reopened["status"] == "open" and reopened["waiver_expired"] is True
    history = client.get(f"/findings/{finding_id}/history", headers=auth(officer)).json
    assert [(h["old_status"], h["new_status"]) for h in history] == [
        ("open", "acknowledged"), ("acknowledged", "waived")]
    assert client.get(f"/audits/{run_id}/findings?status=open",
                      headers=auth(officer)).json["items"]
    page = client.get(f"/audits/{run_id}/findings", headers=auth(officer)).json
    query = FindingQuery(run_id, limit=100)
    rows, _ = list_findings(app.extensions["auditor"]["api"], query, None)
    assert {row["waiver"] is None for row in rows} == {True, False}  # both shapes are here
    assert page == json.loads(json.dumps(FindingPageSchema().dump(
        {"items": rows, "next_offset": None})))  # the fast page is the schema's page
    app.extensions["auditor"]["jobs"].queue.close()
    app.extensions["auditor"]["store"].engine.dispose()
