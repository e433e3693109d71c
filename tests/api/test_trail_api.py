"""The audit trail over the API, and the trail head each packet carries."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient

from auditor.services.packet_view import cover_items, packet_tables
from auditor.services.report_ports import PacketVersion
from tests.api.conftest import audit_run, auth, download, job_result, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number


def _audited(client: FlaskClient, secrets: dict[str, str]) -> str:
    client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secrets["associate"]),
                data={"file": (io.BytesIO(pos_csv("R1")), "p.csv")})
    return str(audit_run(client, secrets["compliance_officer"])["run_id"])


def test_verify_reports_the_count_and_head_and_checks_a_published_head(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    admin = auth(secrets["admin"])
    verdict = client.get("/trail/verify", headers=admin).json
    assert verdict["ok"] and verdict["entries"] >= 9 and verdict["broken_seq"] is None
    head = f"{verdict['head_seq']}:{verdict['head_sha256']}"
    assert client.get(f"/trail/verify?head={head}", headers=admin).json["ok"]
    forged = client.get(f"/trail/verify?head={verdict['head_seq']}:{'0' * 64}",
                        headers=admin).json
    assert not forged["ok"] and forged["broken_seq"] == verdict["head_seq"]
    assert client.get("/trail/verify?head=nonsense-of-enough-length" + "x" * 60,
                      headers=admin).status_code == 422


def test_entries_page_in_seq_order(client: FlaskClient, secrets: dict[str, str]) -> None:
    admin = auth(secrets["admin"])
    first = client.get("/trail?limit=3", headers=admin).json
    # seq 2 adds the other license: this admin's token sees LICENSE only.
    assert [e["seq"] for e in first["items"]] == [1, 3] and first["next_after"] == 3
    rest = client.get("/trail?after=3&limit=500", headers=admin).json
    assert rest["items"][0]["seq"] == 4 and rest["next_after"] is None
    assert rest["items"][0]["prev_hash"] == first["items"][-1]["hash"]
    assert first["items"][0]["new"]["number"] == LIC  # old and new values come decoded


def test_a_regulator_reads_only_its_licenses_entries(client: FlaskClient,
                                                     secrets: dict[str, str]) -> None:
    _audited(client, secrets)
    items = client.get("/trail?limit=500", headers=auth(secrets["regulator"])).json["items"]
    assert {e["license"] for e in items} == {LIC}
    assert {"license.add", "import", "audit.run"} <= {e["action"] for e in items}


def test_each_packet_carries_the_trail_head_at_generation(app: Flask, client: FlaskClient,
                                                          secrets: dict[str, str]) -> None:
    officer = auth(secrets["compliance_officer"])
    run_id = _audited(client, secrets)
    head = client.get("/trail/verify", headers=auth(secrets["admin"])).json
    content = download(client, f"/audits/{run_id}/packet?format=json",
                       secrets["compliance_officer"]).json
    assert content["trail"] == {"seq": head["head_seq"], "sha256": head["head_sha256"]}
    again = job_result(client, client.post(f"/audits/{run_id}/packet?format=json",
                                           headers=officer), secrets["compliance_officer"])
    assert again["packet_sha256"] == download(
        client, f"/audits/{run_id}/packet?format=json", secrets["compliance_officer"]
    ).headers["X-Packet-SHA256"]
    again = client.get(f"/audits/{run_id}/packet?format=json", headers=officer)
    assert again.json == content  # the same content is the same draft, head included
    packet = app.extensions["auditor"]["packets"].records.versions(run_id)[-1]
    assert isinstance(packet, PacketVersion)
    printed = dict(cover_items(packet))["audit trail head"]
    assert printed == f"{head['head_seq']}:{head['head_sha256']}"
    cover = packet_tables(packet)[0]
    assert ["audit trail head", printed] in cover.rows  # the Excel cover sheet
