"""Audit packets and the associate's reports, downloaded over the API."""

from __future__ import annotations

import hashlib
import io
import json

from flask import Flask
from flask.testing import FlaskClient

from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.packets import finalize_packet
from tests.api.conftest import auth, pos_csv
from tests.conftest import LICENSE

LIC = LICENSE.number


def audited(client: FlaskClient, secrets: dict[str, str]) -> str:
    client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secrets["associate"]),
                data={"file": (io.BytesIO(pos_csv("R1")), "p.csv")})
    run = client.post(f"/licenses/{LIC}/audits", json={"from": "2026-01-01", "to": "2026-01-10"},
                      headers=auth(secrets["compliance_officer"]))
    assert run.status_code == 201, run.json
    return str(run.json["run_id"])


def test_a_packet_downloads_as_pdf_xlsx_and_the_json_its_hash_covers(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    run_id = audited(client, secrets)
    officer = auth(secrets["compliance_officer"])
    pdf = client.get(f"/audits/{run_id}/packet?format=pdf", headers=officer)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    xlsx = client.get(f"/audits/{run_id}/packet?format=xlsx", headers=officer)
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    content = client.get(f"/audits/{run_id}/packet?format=json", headers=officer)
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
    got = client.get(f"/audits/{run_id}/packet?format=json", headers=regulator)
    assert got.status_code == 200 and got.headers["X-Packet-SHA256"] == final.sha256


def test_a_report_downloads_and_an_unknown_one_is_named(
        client: FlaskClient, secrets: dict[str, str]) -> None:
    audited(client, secrets)
    viewer = auth(secrets["viewer"])
    path = f"/licenses/{LIC}/reports/reconciliation?from=2026-01-01&to=2026-01-10"
    report = client.get(path + "&format=json", headers=viewer)
    assert report.status_code == 200 and json.loads(report.data)["tables"]
    missing = client.get(path.replace("reconciliation", "horoscope"), headers=viewer)
    assert missing.status_code == 404 and "reconciliation" in missing.json["message"]


def test_a_viewer_asking_again_for_an_unchanged_packet_gets_the_file_rendered_once(
        app: Flask, client: FlaskClient, secrets: dict[str, str]) -> None:
    run_id = audited(client, secrets)
    viewer = auth(secrets["viewer"])
    rendered = app.extensions["auditor"]["rendered"]
    trail = app.extensions["auditor"]["trail"]
    first = client.get(f"/audits/{run_id}/packet?format=pdf", headers=viewer)
    entries = len(trail.entries())
    again = [client.get(f"/audits/{run_id}/packet?format=pdf", headers=viewer) for _ in range(3)]
    assert rendered.renders == 1
    assert {r.data for r in again} == {first.data}
    assert len(trail.entries()) == entries  # reading an unchanged packet records nothing
    client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secrets["associate"]),
                data={"file": (io.BytesIO(pos_csv("R2", day=6)), "p.csv")})  # in the period
    changed = client.get(f"/audits/{run_id}/packet?format=pdf", headers=viewer)
    assert changed.headers["X-Packet-SHA256"] != first.headers["X-Packet-SHA256"]
    assert rendered.renders == 2
