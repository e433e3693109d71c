"""One table role x route x method -> allowed, swept over every route the app registers."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from auditor.domain.license import License
from auditor.services.access import create_token
from auditor.store.api_sql import SqlTokens
from auditor.store.organizations_sql import SqlOrganizations
from tests.api.conftest import OTHER, auth, job_result, pos_csv
from tests.conftest import LICENSE
from tests.figures import Figure

LIC = LICENSE.number
ALL = {"viewer", "associate", "compliance_officer", "admin", "regulator"}
READERS = ALL - {"regulator"}
# (route rule, method) -> roles allowed. A route the app adds without a row fails below.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("/licenses", "GET"): ALL,
    ("/licenses", "POST"): {"admin"},
    ("/licenses/<string:number>", "GET"): ALL,
    ("/licenses/<string:number>/imports", "POST"): {"associate"},
    ("/licenses/<string:number>/events", "GET"): READERS,
    ("/licenses/<string:number>/audits", "POST"): {"compliance_officer"},
    ("/licenses/<string:number>/audits", "GET"): ALL,
    ("/audits/<string:run_id>", "GET"): ALL,
    ("/audits/<string:run_id>/findings", "GET"): ALL,
    ("/findings/<int:finding_id>", "GET"): ALL,
    ("/findings/<int:finding_id>", "PATCH"): {"associate", "compliance_officer"},
    ("/findings/<int:finding_id>/history", "GET"): ALL,
    ("/rules", "GET"): READERS,
    ("/rule-validations", "POST"): {"compliance_officer"},
    ("/rules/<string:rule_id>", "GET"): READERS,
    ("/rules/<string:rule_id>", "PUT"): {"compliance_officer"},
    ("/rules/<string:rule_id>/versions/<int:version>", "GET"): READERS,
    ("/rules/<string:rule_id>/diff", "GET"): READERS,
    ("/licenses/<string:number>/backtests", "POST"): {"compliance_officer"},
    ("/audits/<string:run_id>/packet", "GET"): ALL,  # a regulator: finalized packets only
    ("/audits/<string:run_id>/packet", "POST"): {"compliance_officer"},
    ("/jobs/<string:job_id>", "GET"): ALL,  # a regulator: the jobs it started only
    ("/jobs/<string:job_id>/result", "GET"): ALL,
    ("/licenses/<string:number>/reports/<string:name>", "GET"): READERS,
    ("/trail", "GET"): {"admin", "regulator"},  # a regulator: its licenses' entries only
    ("/trail/verify", "GET"): {"admin", "regulator"},
    ("/licenses/<string:number>/syncs", "POST"): {"compliance_officer", "admin"},
    ("/licenses/<string:number>/syncs", "GET"): READERS,
}
# Rules are shared by every license, so they are not in the cross-license sweep.
GLOBAL = {"/rules", "/rule-validations", "/rules/<string:rule_id>",
          "/rules/<string:rule_id>/versions/<int:version>", "/rules/<string:rule_id>/diff"}
PUBLIC = {("/openapi.json", "GET")}


def app_routes(app: Flask) -> set[tuple[str, str]]:
    """Return the API's routes: the console's (signed-in sessions, swept in
    tests/console/test_pages.py) and the front door that sends browsers there are not."""
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and not rule.endpoint.startswith("console.")
            and rule.endpoint != "front_door"
            for method in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.fixture
def objects(client: FlaskClient, secrets: dict[str, str]) -> dict[str, str]:
    client.post(f"/licenses/{LIC}/imports?format=pos-sales", headers=auth(secrets["associate"]),
                data={"file": (io.BytesIO(pos_csv("R1")), "p.csv")})
    started = client.post(f"/licenses/{LIC}/audits",
                          json={"from": "2026-01-01", "to": "2026-01-10"},
                          headers=auth(secrets["compliance_officer"]))
    run = job_result(client, started, secrets["compliance_officer"])
    page = client.get(f"/audits/{run['run_id']}/findings",
                      headers=auth(secrets["compliance_officer"])).json
    return {"number": LIC, "run_id": run["run_id"], "finding_id": str(page["items"][0]["id"]),
            "rule_id": "pos-sale-unreported", "version": "1", "name": "velocity",
            "job_id": started.json["id"]}


@pytest.fixture
def foreign(app: Flask) -> dict[str, str]:
    """Return token secrets of another organization, holding a license of its own."""
    store = app.extensions["auditor"]["store"]
    SqlOrganizations(store.engine).add("foreign")
    store.add_license(License("C10-0000777-LIC", "CA", "America/Los_Angeles",
                              organization="foreign"))
    tokens = SqlTokens(store.engine)
    return {role: create_token(tokens, store, role, ["C10-0000777-LIC"])[0]
            for role in ("associate", "compliance_officer", "admin", "regulator")}


def valid_body(route: str, method: str) -> dict[str, str] | None:
    """Return a valid body for a route, so only the license scope can refuse the request."""
    if method == "PATCH":
        return {"status": "acknowledged", "note": "n"}
    if method == "POST" and route.endswith(("audits", "backtests")):
        body = {"from": "2026-01-01", "to": "2026-01-02", "yaml": "id: x"}
        return {k: v for k, v in body.items() if route.endswith("backtests") or k != "yaml"}
    if method == "POST" and route.endswith("syncs"):
        return {}
    return None


def url(rule: str, objects: dict[str, str]) -> str:
    for name, value in objects.items():
        for kind in ("string", "int"):
            rule = rule.replace(f"<{kind}:{name}>", value)
    return rule


def test_every_registered_route_has_a_row_in_the_matrix(app: Flask) -> None:
    assert app_routes(app) - PUBLIC == set(MATRIX)


@pytest.mark.reliability
@pytest.mark.parametrize(("route", "method"), sorted(MATRIX))
def test_each_role_is_allowed_exactly_what_the_matrix_says(
        client: FlaskClient, secrets: dict[str, str], objects: dict[str, str],
        route: str, method: str, figure: Figure) -> None:
    mismatches = []
    for role in sorted(ALL):
        # An empty body is enough: the role check comes before the body is read.
        response = client.open(url(route, objects), method=method, headers=auth(secrets[role]))
        allowed = response.status_code != 403
        if allowed != (role in MATRIX[(route, method)]):
            mismatches.append((role, response.status_code))
        assert client.open(url(route, objects), method=method).status_code == 401
    figure("authz: role x route cells checked", len(ALL), route=route, method=method)
    figure("authz: mismatches with the matrix", len(mismatches), of=len(ALL))
    assert mismatches == []


@pytest.mark.reliability
@pytest.mark.parametrize(("route", "method"), sorted(
    k for k in MATRIX if "<" in k[0] and k[0] not in GLOBAL))
def test_another_license_s_objects_answer_404_and_never_leak(
        client: FlaskClient, secrets: dict[str, str], objects: dict[str, str],
        route: str, method: str, figure: Figure) -> None:
    body = valid_body(route, method)
    other = "other_associate" if route.endswith("imports") else "other_officer"
    data = {"file": (io.BytesIO(pos_csv("R9")), "p.csv")} if other == "other_associate" else None
    query = "?format=pos-sales" if data else ""
    query = "?from=2026-01-01&to=2026-01-10" if route.endswith("<string:name>") else query
    response = client.open(url(route, objects) + query,
                           method=method, json=body, data=data,
                           headers=auth(secrets[other], **{"If-Match": '"x"'}))
    figure("authz: cross-license reads", int(response.status_code < 400), of=1, route=route)
    assert response.status_code == 404, response.json
    assert set(response.json) >= {"code", "status", "message"}


def test_a_license_list_shows_only_the_token_s_licenses(client: FlaskClient,
                                                          secrets: dict[str, str]) -> None:
    numbers = [lic["number"] for lic in client.get("/licenses",
                                                   headers=auth(secrets["other_officer"])).json]
    assert numbers == [OTHER.number]


@pytest.mark.reliability
@pytest.mark.parametrize(("route", "method"), sorted(
    k for k in MATRIX if "<" in k[0] and k[0] not in GLOBAL))
def test_another_organization_s_tokens_get_404_for_this_one_s_objects(
        client: FlaskClient, objects: dict[str, str], foreign: dict[str, str],
        route: str, method: str, figure: Figure) -> None:
    body = valid_body(route, method)
    query = "?from=2026-01-01&to=2026-01-10" if route.endswith("<string:name>") else ""
    leaks = []
    for role in sorted(MATRIX[(route, method)] & set(foreign)):
        upload = route.endswith("imports")
        data = {"file": (io.BytesIO(pos_csv("R9")), "p.csv")} if upload else None
        response = client.open(url(route, objects) + ("?format=pos-sales" if upload else query),
                               method=method, json=body, data=data,
                               headers=auth(foreign[role], **{"If-Match": '"x"'}))
        if response.status_code != 404:
            leaks.append((role, response.status_code))
    figure("authz: cross-organization answers other than 404", len(leaks), route=route)
    assert leaks == []


def test_another_organization_s_rule_versions_are_not_this_one_s(
        client: FlaskClient, secrets: dict[str, str], foreign: dict[str, str]) -> None:
    theirs = auth(foreign["compliance_officer"])
    current = client.get("/rules/tag-invalid", headers=theirs)
    draft = current.json["yaml"].replace("version: 1", "version: 2", 1)
    assert client.put("/rules/tag-invalid", json={"yaml": draft},
                      headers={**theirs, "If-Match": current.headers["ETag"]}).status_code == 200
    ours = auth(secrets["compliance_officer"])
    assert client.get("/rules/tag-invalid", headers=ours).json["version"] == 1
    assert client.get("/rules/tag-invalid/versions/2", headers=ours).status_code == 404
    assert client.get("/rules/tag-invalid/diff?from=1&to=2", headers=ours).status_code == 404
    assert client.get("/rules/tag-invalid/versions/2", headers=theirs).status_code == 200
    shown = client.get("/trail?limit=500", headers=auth(secrets["admin"])).json["items"]
    assert "rule.publish" not in {e["action"] for e in shown}
    assert "C10-0000777-LIC" not in {e["license"] for e in shown}
