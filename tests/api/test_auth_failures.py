"""Failed authentications are counted per address and minute, not trailed one by one."""

from __future__ import annotations

import secrets as random_secrets

import pytest
import sqlalchemy as sa
from flask import Flask

from auditor.services.auth_failures import FailedAuthentications
from auditor.store.schema import audit_trail
from tests.api.conftest import auth


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_window_reports_its_first_failure_the_limit_and_then_its_total() -> None:
    clock = Clock(600.0)
    counter = FailedAuthentications(limit=3, clock=clock)
    verdicts = [counter.failed("10.0.0.1") for _ in range(5)]
    assert [v.limited for v in verdicts] == [False, False, False, True, True]
    reported = [(r.kind, r.failures) for v in verdicts for r in v.reports]
    assert reported == [("first", 1), ("limited", 4)]
    assert counter.failed("10.0.0.2").limited is False  # another address has its own count
    clock.now = 660.5
    later = counter.failed("10.0.0.1")
    assert not later.limited
    assert [(r.kind, r.address, r.failures) for r in later.reports] == [
        ("total", "10.0.0.1", 5), ("first", "10.0.0.1", 1)]
    assert later.reports[0].window_start == "1970-01-01T00:10:00+00:00"


def trail_rows(app: Flask) -> list[tuple[str, str]]:
    engine = app.extensions["auditor"]["store"].engine
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(audit_trail.c.action,
                                                         audit_trail.c.new))]


@pytest.mark.reliability
def test_300_random_tokens_leave_a_handful_of_entries_and_valid_tokens_keep_working(
        db_app: Flask, figure) -> None:
    client, secrets = db_app.test_client(), db_app.config["TEST_SECRETS"]
    before = len(trail_rows(db_app))
    statuses = []
    for n in range(300):
        bogus = auth("aud_" + random_secrets.token_urlsafe(32))
        statuses.append(client.get("/licenses", headers=bogus).status_code)
        if n % 50 == 0:
            assert client.get("/licenses", headers=auth(secrets["viewer"])).status_code == 200
    limit = db_app.extensions["auditor"]["settings"].auth_failures_per_minute
    # The run may straddle a minute: then the count starts again once.
    assert statuses[:limit] == [401] * limit
    assert statuses.count(429) >= 300 - 3 * limit
    refused = client.get("/licenses", headers=auth("aud_nope"))
    assert refused.status_code in (401, 429)
    if refused.status_code == 429:
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/licenses", headers=auth(secrets["viewer"])).status_code == 200
    added = trail_rows(db_app)[before:]
    figure("authz: trail entries for 300 failed authentications", len(added), of=300)
    assert 2 <= len(added) <= 6
    assert {action for action, _ in added} <= {"request.denied", "auth.limited",
                                               "auth.failures"}
