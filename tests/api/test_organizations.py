"""Organizations own licenses, tokens and rule versions; one tenant's rule edits stay its own."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.services.access import create_token
from auditor.store.api_sql import SqlTokens
from auditor.store.engine import make_engine
from auditor.store.migrate import upgrade
from auditor.store.organizations_sql import SqlOrganizations
from tests.api.conftest import audit_run, auth, pos_csv

ACME = License("C10-0000111-LIC", "CA", "America/Los_Angeles", organization="acme")
BRAVO = License("C10-0000222-LIC", "CA", "America/Los_Angeles", organization="bravo")
PERIOD = {"from": "2026-01-01", "to": "2026-01-10"}
BAD_TAG = pos_csv("R1").replace(b"1A4FF0100000022000000123", b"1a4ff0100000022000000123")


@pytest.fixture
def tenants(sql_settings: Settings) -> Iterator[tuple[Flask, dict[str, str]]]:
    """Yield an app with two organizations, a license each, and tokens of each."""
    store = open_store(sql_settings, migrate=True)
    for name in ("acme", "bravo"):
        SqlOrganizations(store.engine).add(name)
    store.add_license(ACME)
    store.add_license(BRAVO)
    tokens = SqlTokens(store.engine)
    secrets = {f"{role}_{lic.organization}": create_token(tokens, store, role, [lic.number])[0]
               for lic in (ACME, BRAVO)
               for role in ("associate", "compliance_officer", "regulator", "admin")}
    store.engine.dispose()
    app = create_app({"TESTING": True, "AUDITOR_SETTINGS": sql_settings})
    yield app, secrets
    app.extensions["auditor"]["jobs"].queue.close()
    app.extensions["auditor"]["store"].engine.dispose()


def publish_low_severity(client: FlaskClient, officer: dict[str, str]) -> None:
    current = client.get("/rules/tag-invalid", headers=officer)
    draft = current.json["yaml"].replace("version: 1", "version: 2", 1).replace(
        "severity: high", "severity: low", 1)
    published = client.put("/rules/tag-invalid", json={"yaml": draft},
                           headers={**officer, "If-Match": current.headers["ETag"]})
    assert published.status_code == 200, published.json


def tag_finding(client: FlaskClient, lic: License, secrets: dict[str, str]) -> dict:
    org = lic.organization
    client.post(f"/licenses/{lic.number}/imports?format=pos-sales",
                headers=auth(secrets[f"associate_{org}"]),
                data={"file": (io.BytesIO(BAD_TAG), "p.csv")})
    officer = auth(secrets[f"compliance_officer_{org}"])
    run = audit_run(client, secrets[f"compliance_officer_{org}"], lic.number, PERIOD["from"],
                    PERIOD["to"])
    page = client.get(f"/audits/{run['run_id']}/findings?rule=tag-invalid", headers=officer).json
    assert len(page["items"]) == 1
    return page["items"][0]


def trail_actions(client: FlaskClient, regulator: str) -> list[dict]:
    items = client.get("/trail?limit=500", headers=auth(regulator)).json["items"]
    return [e for e in items if e["action"] == "rule.publish"]


@pytest.mark.reliability
def test_another_organization_s_rule_edit_leaves_this_one_s_rules_and_trail_alone(
        tenants: tuple[Flask, dict[str, str]]) -> None:
    app, secrets = tenants
    client = app.test_client()
    publish_low_severity(client, auth(secrets["compliance_officer_bravo"]))

    acme_officer = auth(secrets["compliance_officer_acme"])
    assert client.get("/rules/tag-invalid", headers=acme_officer).json["version"] == 1
    assert client.get("/rules/tag-invalid",
                      headers=auth(secrets["compliance_officer_bravo"])).json["version"] == 2
    acme = tag_finding(client, ACME, secrets)
    assert (acme["rule_version"], acme["severity"]) == (1, "high")
    bravo = tag_finding(client, BRAVO, secrets)
    assert (bravo["rule_version"], bravo["severity"]) == (2, "low")

    [entry] = trail_actions(client, secrets["regulator_bravo"])
    assert entry["new"]["organization"] == "bravo"
    assert entry["new"]["licenses"] == [BRAVO.number]
    assert trail_actions(client, secrets["regulator_acme"]) == []
    assert trail_actions(client, secrets["admin_acme"]) == []


def test_each_organization_publishes_its_own_version_2(
        tenants: tuple[Flask, dict[str, str]]) -> None:
    app, secrets = tenants
    client = app.test_client()
    publish_low_severity(client, auth(secrets["compliance_officer_bravo"]))
    publish_low_severity(client, auth(secrets["compliance_officer_acme"]))
    [entry] = trail_actions(client, secrets["regulator_acme"])
    assert entry["new"]["organization"] == "acme"


def test_a_token_belongs_to_its_licenses_organization_and_no_other(sql_store) -> None:
    SqlOrganizations(sql_store.engine).add("acme")
    sql_store.add_license(ACME)
    tokens = SqlTokens(sql_store.engine)
    _, record = create_token(tokens, sql_store, "viewer", [ACME.number])
    assert record.organization == "acme"
    with pytest.raises(InvalidInput, match="not in organization 'default'"):
        create_token(tokens, sql_store, "viewer", [ACME.number], organization="default")
    with pytest.raises(InvalidInput, match="several organizations"):
        create_token(tokens, sql_store, "viewer", [ACME.number, "C10-0000123-LIC"])


def test_a_database_at_0007_upgrades_with_everything_in_the_default_organization(
        sql_settings: Settings) -> None:
    engine = make_engine(sql_settings.database_url, schema=sql_settings.database_schema)
    upgrade(engine, "0007")
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO licenses (number, state, timezone, business_name, "
            "sales_floor_locations, vault_locations, created_at) VALUES "
            "('C10-1', 'CA', 'America/Los_Angeles', '', '[\"Floor\"]', '[]', :now)"), {"now": now})
        conn.execute(sa.text(
            "INSERT INTO api_tokens (secret_sha256, role, licenses, label, created_at) "
            "VALUES ('x', 'viewer', '[\"C10-1\"]', 'old', :now)"), {"now": now})
        conn.execute(sa.text(
            "INSERT INTO rule_versions (rule_id, version, yaml, published_at, actor) "
            "VALUES ('tag-invalid', 2, 'id: tag-invalid', :now, 'x')"), {"now": now})
    upgrade(engine)
    store = open_store(sql_settings)
    assert store.get_license("C10-1").organization == "default"
    assert SqlTokens(store.engine).list()[0].organization == "default"
    assert SqlOrganizations(store.engine).list() == [("default", 1)]
    with engine.connect() as conn:
        owners = conn.execute(sa.text("SELECT organization_id FROM rule_versions")).scalars()
        assert list(owners) == [1]
    engine.dispose()
    store.engine.dispose()


def test_org_license_and_token_commands(tmp_path: Path) -> None:
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}

    def auditor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditor", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    assert auditor("db", "upgrade").returncode == 0
    assert auditor("org", "add", "acme").returncode == 0
    assert auditor("org", "add", "acme").returncode != 0  # the name is taken
    missing = auditor("license", "add", "C10-1", "--state", "CA", "--timezone",
                      "America/Los_Angeles", "--org", "nowhere")
    assert missing.returncode != 0 and "auditor org add nowhere" in missing.stderr
    assert auditor("license", "add", "C10-1", "--state", "CA", "--timezone",
                   "America/Los_Angeles", "--org", "acme").returncode == 0
    assert auditor("license", "add", "C10-2", "--state", "CA", "--timezone",
                   "America/Los_Angeles").returncode == 0
    assert auditor("org", "list").stdout.splitlines() == ["acme\t1 licenses",
                                                         "default\t1 licenses"]
    made = auditor("token", "create", "--role", "viewer", "--license", "C10-1", "--org", "acme")
    assert made.returncode == 0 and "(acme; viewer; C10-1)" in made.stdout
    refused = auditor("token", "create", "--role", "viewer", "--license", "C10-2",
                      "--org", "acme")
    assert refused.returncode != 0 and "not in organization 'acme'" in refused.stderr


def test_adding_another_organization_s_license_is_refused_without_naming_it(
        tenants: tuple[Flask, dict[str, str]]) -> None:
    app, secrets = tenants
    client = app.test_client()
    admin = auth(secrets["admin_acme"])
    body = {"number": BRAVO.number, "state": "CA", "timezone": "America/Los_Angeles"}
    taken = client.post("/licenses", json=body, headers=admin)
    assert taken.status_code == 403
    assert "bravo" not in taken.get_data(as_text=True)
    own = client.post("/licenses", json={**body, "number": ACME.number}, headers=admin)
    assert own.status_code == 409
    added = client.post("/licenses", json={**body, "number": "C10-0000333-LIC"}, headers=admin)
    assert added.status_code == 201
    store = app.extensions["auditor"]["store"]
    assert store.get_license("C10-0000333-LIC").organization == "acme"
    assert store.get_license(BRAVO.number).organization == "bravo"  # unchanged


def test_reading_another_organization_s_license_answers_as_for_no_license(
        tenants: tuple[Flask, dict[str, str]]) -> None:
    app, secrets = tenants
    client = app.test_client()
    admin = auth(secrets["admin_acme"])
    held = client.get(f"/licenses/{BRAVO.number}", headers=admin)
    absent = client.get("/licenses/C10-0000444-LIC", headers=admin)
    assert held.status_code == absent.status_code == 404
    assert held.json["message"].replace(BRAVO.number, "N") == \
        absent.json["message"].replace("C10-0000444-LIC", "N")


def test_an_admin_scoped_to_one_license_reads_only_its_trail(
        tenants: tuple[Flask, dict[str, str]]) -> None:
    app, secrets = tenants
    client = app.test_client()
    tag_finding(client, BRAVO, secrets)
    items = client.get("/trail?limit=500", headers=auth(secrets["admin_acme"])).json["items"]
    assert {e["license"] for e in items} <= {ACME.number, None}
    assert all(e["new"].get("organization") == "acme" for e in items if e["license"] is None)
    assert {"license.add", "organization.add"} <= {e["action"] for e in items}
