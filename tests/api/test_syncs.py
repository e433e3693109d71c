"""POST and GET /licenses/{number}/syncs against the METRC simulator on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from auditor.connectors.metrc_http import MetrcHttp
from auditor.sample.metrc_simulator import SimulatorServer
from auditor.services.sync import ENDPOINT_NAMES
from auditor.services.sync_ports import MetrcKeys
from tests.api.conftest import auth, finish_job, job_result
from tests.conftest import LICENSE
from tests.metrc_sim import SINCE, UNTIL, client, make_sample, simulator

LIC = LICENSE.number
SPAN = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture
def server(app: Flask, sample: Path) -> Iterator[SimulatorServer]:
    with simulator(sample) as served:
        app.extensions["auditor"]["metrc"] = lambda lic: client(served, lic.number)
        yield served


def test_an_officer_syncs_and_a_viewer_reads_each_endpoint_s_state(
        client: FlaskClient, secrets: dict[str, str], server: SimulatorServer) -> None:
    response = client.post(f"/licenses/{LIC}/syncs", json=SPAN,
                           headers=auth(secrets["compliance_officer"]))
    runs = job_result(client, response, secrets["compliance_officer"])["endpoints"]
    assert [r["endpoint"] for r in runs] == list(ENDPOINT_NAMES)
    assert all(r["status"] == "ok" and r["rejected"] == 0 for r in runs)
    assert sum(r["accepted"] for r in runs) > 0
    states = client.get(f"/licenses/{LIC}/syncs", headers=auth(secrets["viewer"])).json
    assert {s["endpoint"]: s["synced_through"] for s in states["endpoints"]} == {
        name: UNTIL.isoformat() for name in ENDPOINT_NAMES}
    events = client.get(f"/licenses/{LIC}/events?type=metrc_receipt",
                        headers=auth(secrets["viewer"]))
    assert events.status_code == 200 and events.json["items"]


def test_a_refused_key_fails_the_job_naming_the_fix(
        app: Flask, client: FlaskClient, secrets: dict[str, str],
        server: SimulatorServer) -> None:
    app.extensions["auditor"]["metrc"] = lambda lic: MetrcHttp(
        server.url, MetrcKeys("vendor", "not-the-key"), lic.number, sleep=lambda _s: None)
    response = client.post(f"/licenses/{LIC}/syncs", json=SPAN,
                           headers=auth(secrets["admin"]))
    job = finish_job(client, response, secrets["admin"])
    assert job["status"] == "failed"
    assert job["error"].startswith(f"METRC refused the user key for license {LIC}")
    assert "not-the-key" not in str(job)


def test_an_unknown_endpoint_is_refused_with_422(client: FlaskClient,
                                                 secrets: dict[str, str]) -> None:
    response = client.post(f"/licenses/{LIC}/syncs", json={"endpoints": ["plants"]},
                           headers=auth(secrets["admin"]))
    assert response.status_code == 422
    assert "endpoints" in response.json["errors"]["json"]
