"""Console fixtures: the API's app and licenses, a console user per role, a day of events.

The day (2026-01-05 at the test license, Los Angeles time) holds a delivery with one of
its two packages scanned and none accepted, a move to the sales floor with no METRC
location change, a count off METRC's on-hand, METRC's reason list, and a POS sale METRC
never heard of (so an audit finds something to acknowledge and waive). Pre-rolls
delivered three days before sell out on the floor, so the today page asks for two
vault packages to be brought out (`stock_events`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.services.access import Role
from auditor.services.users import create_user
from auditor.store.users_sql import SqlUsers
from tests.api.conftest import OTHER, make_app, pos_csv
from tests.conftest import LICENSE

PASSWORD = "correct horse battery"
DAY = "2026-01-05"
TAG1, TAG2 = "1A4FF0100000022000000201", "1A4FF0100000022000000202"
# Pre-rolls: TAG3 on the floor and selling out; TAG4 and TAG5 in the vault, TAG5 expiring
# first and already at the sales floor in METRC, TAG4 not.
TAG3, TAG4, TAG5 = (f"1A4FF01000000220000003{n:02d}" for n in (1, 2, 3))


def email(role: str) -> str:
    return f"{role}@store.example"


def day_events() -> bytes:
    """Return the day's canonical events as NDJSON."""
    def at(hh_mm: str) -> str:
        return f"{DAY}T{hh_mm}:00-08:00"

    rows: list[dict[str, Any]] = [
        {"type": "adjust_reason", "occurred_at": at("06:00"), "reference": "L1",
         "payload": {"name": "Spoilage", "list_digest": "L1", "effective_at": at("06:00")}},
        {"type": "adjust_reason", "occurred_at": at("06:00"), "reference": "L1",
         "payload": {"name": "Theft", "list_digest": "L1", "effective_at": at("06:00")}},
    ]
    for tag in (TAG1, TAG2):
        rows.append({"type": "manifest_package", "occurred_at": at("08:00"),
                     "package_label": tag, "reference": "M-100",
                     "payload": {"manifest_number": "M-100", "label": tag,
                                 "item_name": "Gummies", "category": "Edible",
                                 "shipment_state": "Shipped", "shipped_quantity": 10,
                                 "shipped_unit": "Each"}})
    rows += [
        {"type": "receiving_scan", "occurred_at": at("08:10"), "package_label": TAG1,
         "reference": "M-100", "payload": {"scanned_at": at("08:10"),
                                           "manifest_number": "M-100", "label": TAG1,
                                           "quantity": 10, "unit": "Each"}},
        {"type": "move", "occurred_at": at("09:00"), "package_label": TAG1,
         "payload": {"moved_at": at("09:00"), "label": TAG1, "from_location": "Vault",
                     "to_location": "Sales Floor", "quantity": 10, "unit": "Each"}},
        {"type": "count_line", "occurred_at": at("11:00"), "package_label": TAG2,
         "reference": "C-7", "payload": {"counted_at": at("11:00"), "count_id": "C-7",
                                         "location": "Vault", "label": TAG2,
                                         "counted_quantity": 7, "unit": "Each"}},
    ]
    for n, row in enumerate(rows):
        row["natural_key"] = f"console-test-{n}"
    return "\n".join(json.dumps(r) for r in rows).encode() + b"\n"


def stock_events() -> bytes:
    """Return, as NDJSON, pre-rolls received on 2026-01-02 and selling out on the floor."""
    rows: list[dict[str, Any]] = []
    expiry = {TAG3: "2026-02-15", TAG4: "2026-03-01", TAG5: "2026-01-20"}
    # TAG5 holds one item, so bringing the floor up to a week of sales (2) takes both.
    held = {TAG3: 4, TAG4: 4, TAG5: 1}
    for tag in (TAG3, TAG4, TAG5):
        rows += [
            {"type": "manifest_package", "occurred_at": "2026-01-02T08:00:00-08:00",
             "package_label": tag, "reference": "M-090", "payload": {
                 "manifest_number": "M-090", "label": tag, "item_name": "Pre-roll 1g",
                 "category": "Pre-Roll", "shipment_state": "Accepted", "shipped_quantity": held[tag],
                 "shipped_unit": "Each", "received_quantity": held[tag],
                 "received_unit": "Each"}},
            {"type": "receiving_scan", "occurred_at": "2026-01-02T08:05:00-08:00",
             "package_label": tag, "reference": "M-090", "payload": {
                 "scanned_at": "2026-01-02T08:05:00-08:00", "manifest_number": "M-090",
                 "label": tag, "quantity": held[tag], "unit": "Each"}},
            {"type": "package_snapshot", "occurred_at": "2026-01-02T09:00:00-08:00",
             "package_label": tag, "payload": {"label": tag, "location": "Vault",
                                               "expiration_date": expiry[tag]}}]
    rows += [
        {"type": "location_change", "occurred_at": "2026-01-02T10:00:00-08:00",
         "package_label": TAG3, "payload": {"label": TAG3, "location": "Sales Floor"}},
        {"type": "move", "occurred_at": "2026-01-02T10:05:00-08:00", "package_label": TAG3,
         "payload": {"moved_at": "2026-01-02T10:05:00-08:00", "label": TAG3,
                     "from_location": "Vault", "to_location": "Sales Floor", "quantity": 4,
                     "unit": "Each"}},
        {"type": "location_change", "occurred_at": f"{DAY}T07:00:00-08:00",
         "package_label": TAG5, "payload": {"label": TAG5, "location": "Sales Floor"}}]
    for day in (3, 4, 5):
        at, receipt = f"2026-01-{day:02d}T12:00:00-08:00", f"P{day}"
        rows += [{"type": "pos_sale_line", "occurred_at": at, "package_label": TAG3,
                  "reference": receipt, "payload": {"receipt_id": receipt, "label": TAG3,
                                                    "quantity": 1, "unit": "Each",
                                                    "voided": False}},
                 {"type": "metrc_sale_line", "occurred_at": at, "package_label": TAG3,
                  "reference": receipt, "payload": {"external_receipt_number": receipt,
                                                    "label": TAG3, "quantity": 1,
                                                    "unit": "Each", "recorded_at": at}}]
    for n, row in enumerate(rows):
        row["natural_key"] = f"console-stock-{n}"
    return "\n".join(json.dumps(r) for r in rows).encode() + b"\n"


def seed(settings: Settings) -> Flask:
    """Return an app whose store holds the day, with a user per role (and others')."""
    app, secrets = make_app(settings)
    store = open_store(settings)
    users = SqlUsers(store.engine)
    for role in Role:
        create_user(users, store, email(role.value), PASSWORD, role.value, [LICENSE.number])
    create_user(users, store, email("other_officer"), PASSWORD, "compliance_officer",
                [OTHER.number])
    store.engine.dispose()
    client = app.test_client()
    token = {"Authorization": f"Bearer {secrets['associate']}"}
    for fmt, name, body in (("events", "day.ndjson", day_events()),
                            ("events", "stock.ndjson", stock_events()),
                            ("pos-sales", "pos.csv", pos_csv("R1", day=5))):
        answer = client.post(f"/licenses/{LICENSE.number}/imports?format={fmt}",
                             headers=token, data={"file": (io.BytesIO(body), name)},
                             content_type="multipart/form-data")
        assert answer.status_code == 201 and answer.json["rejected"] == 0, answer.json
    app.config["TEST_SECRETS"] = secrets
    return app


@pytest.fixture
def console_app(sqlite_url: str) -> Iterator[Flask]:
    app = seed(Settings(database_url=sqlite_url, console_cookie_secure=False))
    yield app
    app.extensions["auditor"]["store"].engine.dispose()


@pytest.fixture
def db_console_app(sql_settings: Settings) -> Iterator[Flask]:
    """The seeded console on SQLite and on PostgreSQL in turn."""
    app = seed(replace(sql_settings, console_cookie_secure=False))
    yield app
    app.extensions["auditor"]["store"].engine.dispose()


def csrf_of(page: bytes) -> str:
    """Return the CSRF token a page's forms carry."""
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1).decode()


def signed_in(app: Flask, role: str) -> FlaskClient:
    """Return a test client signed in as the user of a role."""
    client = app.test_client()
    token = csrf_of(client.get("/console/sign-in").data)
    answer = client.post("/console/sign-in", data={"email": email(role), "password": PASSWORD,
                                                   "csrf_token": token})
    assert answer.status_code == 302, answer.data
    return client


def form_token(client: FlaskClient, path: str) -> str:
    """Return the CSRF token of the page at path (the session's)."""
    page = client.get(path)
    assert page.status_code == 200, page.data[:400]
    return csrf_of(page.data)


__all__ = ["LICENSE", "OTHER", "create_app"]
