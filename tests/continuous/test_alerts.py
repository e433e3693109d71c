"""Alerts: each new critical or high finding reaches the webhook once, retried, never twice.

A local HTTP receiver in the test refuses its first request (500) and records the rest.
"""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from auditor.connectors.webhook import Webhook
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.alerts import backoff, deliver_due
from auditor.services.worker import Worker, run_once
from auditor.store.alerts_sql import SqlAlertOutbox
from auditor.store.continuous_sql import ContinuousStore
from tests.conftest import LICENSE
from tests.continuous.test_worker import add_bad_tags

PACK = load_pack(default_rules_dir(), LICENSE.state)


@pytest.fixture
def receiver():
    """Yield (url, received bodies with their Idempotency-Key); the first POST gets 500."""
    received, calls = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(body["id"])
            if len(calls) == 1:
                self.send_response(500)
            else:
                received.append((self.headers["Idempotency-Key"], body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()
    server.server_close()


def alerting_worker(store, url, now):
    outbox = SqlAlertOutbox(store.engine)
    return Worker(ContinuousStore(store.engine, alerts=True), [LICENSE], lambda _: PACK,
                  lateness=timedelta(0),
                  after_commit=lambda: deliver_due(outbox, Webhook(url), now()))


def test_each_new_high_finding_reaches_the_webhook_once_after_a_retry(sql_store, receiver):
    url, received = receiver
    clock = {"now": datetime.now(UTC) + timedelta(seconds=1)}
    add_bad_tags(sql_store, 3)
    run_once(alerting_worker(sql_store, url, lambda: clock["now"]))
    identities = {r["identity"] for r in ContinuousStore(sql_store.engine).findings(
        ContinuousStore(sql_store.engine).license_ids([LICENSE.number])[LICENSE.number])
        if r["severity"] in ("critical", "high")}
    assert identities, "malformed tags are high-severity findings"
    assert len(received) == len(identities) - 1  # the first was refused: it waits
    clock["now"] += backoff(1)
    restarted = alerting_worker(sql_store, url, lambda: clock["now"])
    add_bad_tags(sql_store, 1, start=3)  # a new finding, after a restart
    run_once(restarted)
    run_once(alerting_worker(sql_store, url, lambda: clock["now"]))
    keys = [key for key, _ in received]
    assert len(keys) == len(set(keys)), "no alert is delivered twice"
    assert {body["identity"] for _, body in received} == {
        r["identity"] for r in ContinuousStore(sql_store.engine).findings(1)
        if r["severity"] in ("critical", "high")}
    assert all(key == body["id"] for key, body in received)


def test_a_refused_alert_waits_its_backoff():
    assert backoff(1) < backoff(2) < backoff(3)
    assert backoff(50) == timedelta(hours=1)


def test_a_webhook_must_be_an_http_url():
    with pytest.raises(ValueError, match="AUDITOR_ALERT_WEBHOOK_URL"):
        Webhook("file:///etc/passwd")
