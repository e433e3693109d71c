"""Audit packets and the associate's reports, downloaded over the API."""

from __future__ import annotations

import hashlib
import io
import json

from flask import Flask
from flask.testing import FlaskClient

from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.packets import finalize_packet
from tests.api.conftest import audit_run, auth, download, finish_job, job_result, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number


def audited(client: FlaskClient, secrets: dict[str, str]) -> str:
    client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secrets["associate"]),
                data={"file": (io.BytesIO(pos_csv("R1")), "p.csv")})
    return str(audit_run(client, secrets["compliance_officer"])["run_id"])


def test_a_packet_downloads_as_pdf_xlsx_and_the_json_its_hash_covers(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    run_id = audited(client, secrets)
    officer = secrets["compliance_officer"]
    pdf = download(client, f"/audits/{run_id}/packet?format=pdf", officer)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    xlsx = download(client, f"/audits/{run_id}/packet?format=xlsx", officer)
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    content = download(client, f"/audits/{run_id}/packet?format=json", officer)
    assert hashlib.sha256(content.data).hexdigest() == content.headers["X-Packet-SHA256"]
    assert pdf.headers["X-Packet-SHA256"] == content.headers["X-Packet-SHA256"]
    assert json.loads(content.data)["run"]["run_id"] == run_id


def test_a_regulator_reads_a_packet_only_once_it_is_final(
        app: Flask, client: FlaskClient, secrets: dict[str, str]) -> None:
    run_id = audited(client, secrets)
    regulator = auth(secrets["regulator"])
    assert client.get(f"/audits/{run_id}/packet?format=json", headers=regulator).status_code \
        == 404
    final = finalize_packet(app.extensions["auditor"]["packets"], run_id,
                            load_pack(default_rules_dir(), "CA"), "officer")
    got = download(client, f"/audits/{run_id}/packet?format=json", secrets["regulator"])
    assert got.status_code == 200 and got.headers["X-Packet-SHA256"] == final.sha256
    assert got.headers["X-Packet-Status"] == "final"


def test_a_report_downloads_and_an_unknown_one_is_named(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    audited(client, secrets)
    viewer = auth(secrets["viewer"])
    path = f"/licenses/{LIC}/reports/reconciliation?from=2026-01-01&to=2026-01-10"
    result = job_result(client, client.get(path + "&format=json", headers=viewer),
                        secrets["viewer"])
    report = client.get(result["result_url"], headers=viewer)
    assert report.status_code == 200 and json.loads(report.data)["tables"]
    assert report.headers["Content-Disposition"].endswith('.json"')
    missing = client.get(path.replace("reconciliation", "horoscope"), headers=viewer)
    assert missing.status_code == 404 and "reconciliation" in missing.json["message"]


def test_a_viewer_s_get_never_renders_on_the_request_and_leaves_no_trail_entry(
        app: Flask, client: FlaskClient, secrets: dict[str, str]) -> None:
    run_id = audited(client, secrets)
    viewer, path = auth(secrets["viewer"]), f"/audits/{run_id}/packet?format=pdf"
    trail = app.extensions["auditor"]["trail"]
    first = client.get(path, headers=viewer)
    assert first.status_code == 202 and first.headers["Location"] == f"/jobs/{first.json['id']}"
    assert client.get(path, headers=viewer).json["id"] == first.json["id"]  # one job, shared
    assert finish_job(client, first, secrets["viewer"])["status"] == "succeeded"
    entries = len(trail.entries())
    stored = client.get(path, headers=viewer)
    again = [client.get(path, headers=viewer) for _ in range(3)]
    assert stored.status_code == 200 and stored.headers["X-Packet-Status"] == "draft"
    assert {r.data for r in again} == {stored.data}
    assert len(trail.entries()) == entries  # reading a stored packet records nothing
    client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secrets["associate"]),
                data={"file": (io.BytesIO(pos_csv("R2", day=6)), "p.csv")})  # in the period
    assert client.get(path, headers=viewer).data == stored.data  # the stored draft, as it was
    rebuilt = client.post(path, headers=auth(secrets["compliance_officer"]))
    assert job_result(client, rebuilt, secrets["compliance_officer"])["final"] is False
    changed = client.get(path, headers=viewer)
    assert changed.headers["X-Packet-SHA256"] != stored.headers["X-Packet-SHA256"]
    actions = [e.action for e in trail.entries()[entries:]]
    assert actions.count("packet.generate") == 1  # the rebuilt draft, not the reads
