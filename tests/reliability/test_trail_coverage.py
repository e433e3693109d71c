"""Every mutating API call leaves exactly one trail entry saying who, what, when and to what.

The calls are driven through the Flask test client over every write route the app
registers (a route added without a row here fails the sweep), then the token commands.
A call that changes nothing (a validation, a backtest, a refused request's body) leaves
no entry, except that a refused caller (401, 403) is itself recorded.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from auditor.bootstrap import open_store
from auditor.cli import main
from auditor.config import Settings
from auditor.domain.trail import Entry
from auditor.rules.loader import default_rules_dir
from auditor.services.access import authenticate
from auditor.services.trail import verify_trail
from auditor.store.trail_sql import SqlTrail
from tests.api.conftest import OTHER, auth, finish_job, make_app, pos_csv
from tests.api.test_authorization import app_routes
from tests.conftest import LICENSE
from tests.metrc_sim import client, make_sample, simulator

pytestmark = pytest.mark.reliability
LIC = LICENSE.number
SEED = (default_rules_dir() / "core" / "pos-sale-unreported.yaml").read_text()
SHIPPED = int(re.search(r"^version: (\d+)$", SEED, re.M)[1])  # the seed's version
DRAFT = SEED.replace(f"version: {SHIPPED}", f"version: {SHIPPED + 1}", 1).replace(
    "deadline: $sale_report_window", "deadline: P3D")


@dataclass
class Op:
    """One API call, what it should answer, and the entry it should leave (None: none)."""

    route: tuple[str, str]  # the app's rule and method, for the sweep
    call: Callable[[FlaskClient, dict[str, Any]], Any]
    status: int
    action: str | None
    actor_role: str | None = None  # whose token the entry names


def _upload(c: FlaskClient, s: dict[str, Any]) -> Any:
    return c.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(s["associate"]),
                  data={"file": (io.BytesIO(pos_csv("R1")), "pos.csv")})


def _waited(call: Callable[[FlaskClient, dict[str, Any]], Any]
            ) -> Callable[[FlaskClient, dict[str, Any]], Any]:
    """Return call, waiting for the job a 202 started: its changes are what is counted."""
    def waiting(c: FlaskClient, s: dict[str, Any]) -> Any:
        response = call(c, s)
        if response.status_code == 202:
            s["job"] = finish_job(c, response, s["compliance_officer"])
            assert s["job"]["status"] == "succeeded", s["job"]
        return response
    return waiting


def _audit(c: FlaskClient, s: dict[str, Any]) -> Any:
    response = _waited(lambda c, s: c.post(
        f"/licenses/{LIC}/audits", json={"from": "2026-01-01", "to": "2026-01-10"},
        headers=auth(s["compliance_officer"])))(c, s)
    s["run"] = s["job"]["result"]["run_id"]
    s["finding"] = c.get(f"/audits/{s['run']}/findings",
                         headers=auth(s["compliance_officer"])).json["items"][0]["id"]
    return response


def _patch(body: dict[str, Any], role: str) -> Callable[[FlaskClient, dict[str, Any]], Any]:
    def call(c: FlaskClient, s: dict[str, Any]) -> Any:
        etag = c.get(f"/findings/{s['finding']}", headers=auth(s[role])).headers["ETag"]
        return c.patch(f"/findings/{s['finding']}", json=body,
                       headers=auth(s[role], **{"If-Match": etag}))
    return call


def _publish(c: FlaskClient, s: dict[str, Any]) -> Any:
    officer = auth(s["compliance_officer"])
    etag = c.get("/rules/pos-sale-unreported", headers=officer).headers["ETag"]
    return c.put("/rules/pos-sale-unreported", json={"yaml": DRAFT},
                 headers={**officer, "If-Match": etag})


def _sync(c: FlaskClient, s: dict[str, Any]) -> Any:
    """Pull an empty day from the METRC simulator: the sync itself is the only change."""
    app = c.application
    with tempfile.TemporaryDirectory() as scratch, \
            simulator(make_sample(Path(scratch))) as server:
        app.extensions["auditor"]["metrc"] = lambda lic: client(server, lic.number)
        return c.post(f"/licenses/{LIC}/syncs", headers=auth(s["compliance_officer"]),
                      json={"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z",
                            "endpoints": ["receipts-active"]})


WAIVER = {"status": "waived", "note": "outage", "waiver": {
    "justification": "METRC down", "expires_at": (datetime.now(UTC) + timedelta(days=30))
    .isoformat()}}
IMPORTS = ("/licenses/<string:number>/imports", "POST")
OPS = [
    Op(("/licenses", "POST"), lambda c, s: c.post("/licenses", headers=auth(s["admin"]), json={
        "number": "C10-0000777-LIC", "state": "CA", "timezone": "America/Los_Angeles"}),
       201, "license.add", "admin"),
    Op(IMPORTS, _upload, 201, "import", "associate"),
    Op(IMPORTS, lambda c, s: c.post(f"/licenses/{LIC}/imports?format=pos-sales",
                                    headers=auth(s["associate"]),
                                    data={"file": (io.BytesIO(b"not,a,pos\n"), "bad.csv")}),
       422, None),  # refused whole: nothing written, nothing recorded
    Op(("/licenses/<string:number>/audits", "POST"), _audit, 202, "audit.run",
       "compliance_officer"),
    Op(("/findings/<int:finding_id>", "PATCH"),
       _patch({"status": "acknowledged", "note": "seen"}, "associate"), 200, "finding.status",
       "associate"),
    Op(("/findings/<int:finding_id>", "PATCH"), _patch(WAIVER, "compliance_officer"), 200,
       "finding.waive", "compliance_officer"),
    Op(("/findings/<int:finding_id>", "PATCH"),
       _patch({"status": "waived", "note": "x"}, "compliance_officer"), 409, None),
    Op(("/rule-validations", "POST"), lambda c, s: c.post(
        "/rule-validations", json={"yaml": DRAFT}, headers=auth(s["compliance_officer"])),
       200, None),  # a check: stores nothing
    Op(("/licenses/<string:number>/backtests", "POST"), _waited(lambda c, s: c.post(
        f"/licenses/{LIC}/backtests", json={"yaml": DRAFT, "from": "2026-01-01",
                                            "to": "2026-01-10"},
        headers=auth(s["compliance_officer"]))), 202, None),  # a comparison: stores nothing
    Op(("/rules/<string:rule_id>", "PUT"), _publish, 200, "rule.publish", "compliance_officer"),
    Op(("/audits/<string:run_id>/packet", "GET"), _waited(lambda c, s: c.get(
        f"/audits/{s['run']}/packet?format=json", headers=auth(s["compliance_officer"]))),
       202, "packet.generate", "compliance_officer"),  # not stored yet: a job stores a draft
    Op(("/audits/<string:run_id>/packet", "GET"), lambda c, s: c.get(
        f"/audits/{s['run']}/packet?format=json", headers=auth(s["compliance_officer"])),
       200, None),  # served as stored: nothing recorded
    Op(("/audits/<string:run_id>/packet", "POST"), _waited(lambda c, s: c.post(
        f"/audits/{s['run']}/packet?format=json", headers=auth(s["compliance_officer"]))),
       202, None),  # rendered afresh; the same content is the same draft
    Op(("/licenses/<string:number>/syncs", "POST"), _waited(_sync), 202, "metrc.sync",
       "compliance_officer"),
    Op(("/licenses", "POST"), lambda c, s: c.post("/licenses", headers=auth(s["viewer"]),
                                                  json={}), 403, "request.denied", "viewer"),
    Op(("/licenses", "GET"), lambda c, s: c.get("/licenses"), 401, "request.denied"),
]


Served = tuple[Flask, FlaskClient, dict[str, str]]


@pytest.fixture
def served(sqlite_url: str) -> Iterator[Served]:
    """Yield the app on a fresh database, its test client and a token secret per role."""
    app, tokens = make_app(Settings(database_url=sqlite_url))
    yield app, app.test_client(), tokens
    app.extensions["auditor"]["store"].engine.dispose()


def _actor(app: Flask, secrets: dict[str, str], role: str) -> str:
    principal = authenticate(app.extensions["auditor"]["api"].tokens, secrets[role])
    assert principal is not None
    return principal.actor


def test_every_write_route_of_the_app_is_driven_here(served: Served) -> None:
    app = served[0]
    writes = {(rule, method) for rule, method in app_routes(app) if method != "GET"}
    assert writes <= {op.route for op in OPS}


def test_each_mutating_call_leaves_exactly_one_entry(served: Served, figure) -> None:
    app, client, secrets = served
    trail, state = SqlTrail(app.extensions["auditor"]["store"].engine), dict(secrets)
    wrong = []
    for op in OPS:
        before = trail.head()
        started = datetime.now(UTC)
        response = op.call(client, state)
        assert response.status_code == op.status, (op.route, response.json)
        added = trail.entries(before.seq if before else 0)
        expected = [op.action] if op.action else []
        if [e.action for e in added] != expected:
            wrong.append((op.route, op.status, [e.action for e in added]))
            continue
        if added:
            _check_entry(added[0], started, op.actor_role and _actor(app, secrets, op.actor_role))
    changes = [op for op in OPS if op.action]
    figure("trail: mutating API calls vs entries", len(changes) - len(wrong), of=len(changes),
           missing=len(wrong))
    assert wrong == []
    assert verify_trail(trail).ok


def _check_entry(entry: Entry, started: datetime, actor: str | None) -> None:
    """Assert an entry says who, what, when (UTC, server time) and what changed."""
    at = datetime.fromisoformat(entry.at.replace("Z", "+00:00"))
    assert started <= at <= datetime.now(UTC)
    if actor:
        assert entry.actor == actor
    else:
        assert entry.actor.startswith("anonymous")
    assert entry.entity_type and entry.entity_id
    assert entry.as_json()["new"] is not None
    if entry.action.startswith("finding."):
        assert entry.as_json()["old"]["status"] and entry.license == LIC


def test_a_replayed_upload_writes_nothing_and_records_nothing(served: Served) -> None:
    app, client, secrets = served
    trail = SqlTrail(app.extensions["auditor"]["store"].engine)
    headers = auth(secrets["associate"], **{"Idempotency-Key": "k1"})
    for expected in (1, 0):
        before = trail.head()
        client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=headers,
                    data={"file": (io.BytesIO(pos_csv("R7")), "p.csv")})
        assert len(trail.entries(before.seq if before else 0)) == expected


def test_token_commands_are_recorded_with_the_cli_actor(sqlite_url, monkeypatch) -> None:
    store = open_store(Settings(database_url=sqlite_url), migrate=True)
    store.add_license(OTHER)
    monkeypatch.setenv("AUDITOR_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    made = runner.invoke(main, ["--actor", "ops-desk", "token", "create", "--role", "viewer",
                                "--license", OTHER.number])
    assert made.exit_code == 0, made.output
    token_id = made.output.split()[1]
    assert runner.invoke(main, ["token", "revoke", token_id]).exit_code == 0
    entries = SqlTrail(store.engine).entries()
    assert [(e.action, e.entity_id) for e in entries[-2:]] == [
        ("token.create", token_id), ("token.revoke", token_id)]
    assert entries[-2].actor == "ops-desk" and entries[-1].actor.startswith("cli ")
    assert entries[-1].as_json()["old"] == {"revoked_at": None}
    store.engine.dispose()
