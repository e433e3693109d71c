"""API fixtures: an app on a migrated database, two licenses, a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.license import License
from auditor.services.access import Role, create_token
from auditor.store.api_sql import SqlTokens
from tests.conftest import LICENSE

OTHER = License("C10-0000999-LIC", "CA", "America/Los_Angeles", ("Sales Floor",), "Other",
                ("Vault",))
POS_HEADER = ("receipt_id,line_id,sold_at,package_label,sku,product_name,category,quantity,"
              "unit,unit_price,total_price,customer_type,customer_id,employee,voided\n")


def pos_csv(receipt: str, day: int = 5) -> bytes:
    """Return a one-line POS export: a sale METRC never hears of, so a finding."""
    return (POS_HEADER + f"{receipt},1,2026-01-{day:02d}T10:00:00-08:00,"
            "1A4FF0100000022000000123,SKU1,Gummies,Edible,1,Each,10.00,10.00,"
            "Consumer,C1,ann,false\n").encode()


def make_app(settings: Settings) -> tuple[Flask, dict[str, str]]:
    """Return an app on a migrated database and a token secret per role for LICENSE."""
    store = open_store(settings, migrate=True)
    store.add_license(LICENSE)
    store.add_license(OTHER)
    tokens = SqlTokens(store.engine)
    secrets = {role.value: create_token(tokens, store, role.value, [LICENSE.number])[0]
               for role in Role}
    secrets["other_officer"] = create_token(tokens, store, "compliance_officer",
                                            [OTHER.number])[0]
    secrets["other_associate"] = create_token(tokens, store, "associate", [OTHER.number])[0]
    store.engine.dispose()
    app = create_app({"TESTING": True, "AUDITOR_SETTINGS": settings})
    return app, secrets


def serve(settings: Settings) -> Iterator[Flask]:
    """Yield an app from make_app with its token secrets in its config; dispose after."""
    app, secrets = make_app(settings)
    app.config["TEST_SECRETS"] = secrets
    yield app
    app.extensions["auditor"]["jobs"].queue.close()
    app.extensions["auditor"]["store"].engine.dispose()


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    yield from serve(Settings(database_url=sqlite_url))


@pytest.fixture
def db_app(sql_settings: Settings) -> Iterator[Flask]:
    """Yield the API of make_app on SQLite and on PostgreSQL in turn."""
    yield from serve(sql_settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def secrets(app: Flask) -> dict[str, str]:
    return dict(app.config["TEST_SECRETS"])


def auth(secret: str, **headers: str) -> dict[str, Any]:
    """Return request headers carrying a bearer token."""
    return {"Authorization": f"Bearer {secret}", **headers}


def finish_job(client: FlaskClient, answer: Any, secret: str, timeout: float = 60) -> Any:
    """Wait for the job a 202 answer started; return the job as GET /jobs/{id} shows it."""
    import time

    assert answer.status_code == 202, answer.get_json()
    location = answer.headers["Location"]
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(location, headers=auth(secret)).get_json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def job_result(client: FlaskClient, answer: Any, secret: str) -> Any:
    """Wait for the job a 202 answer started and return its result; fail if it failed."""
    job = finish_job(client, answer, secret)
    assert job["status"] == "succeeded", job
    return job["result"]


def audit_run(client: FlaskClient, secret: str, license: str = "C10-0000123-LIC",
              start: str = "2026-01-01", end: str = "2026-01-10") -> Any:
    """Start an audit job, wait for it, and return its result (the run, without findings)."""
    started = client.post(f"/licenses/{license}/audits", json={"from": start, "to": end},
                          headers=auth(secret))
    return job_result(client, started, secret)


def download(client: FlaskClient, path: str, secret: str) -> Any:
    """GET a stored file (a packet); if it is not stored yet, wait for its job and GET again."""
    answer = client.get(path, headers=auth(secret))
    if answer.status_code != 202:
        return answer
    job = finish_job(client, answer, secret)
    assert job["status"] == "succeeded", job
    return client.get(path, headers=auth(secret))
