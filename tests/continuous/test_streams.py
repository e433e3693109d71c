"""Hypothesis event streams: continuous findings equal the batch findings, rule by rule.

Streams mix the event types a rule reads, over few tags, places and instants (ties
included), in any import order. One database serves every example: each example
gets a license of its own.
"""

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.events import EVENT_FIELDS, EventType
from auditor.domain.findings import explain
from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.ingest import ingest
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore

LABELS = ["1A4000000000000000000001", "1A4000000000000000000002", "bad-tag"]
PLACES = ["Sales Floor", "Vault"]
T0 = datetime(2026, 3, 7, 8, tzinfo=UTC)  # the weekend before the DST change
RULES = {rule.id: rule for rule in load_pack(default_rules_dir()).rules}
numbers = itertools.count(1)


@st.composite
def an_event(draw):
    kind = draw(st.sampled_from(["move", "location_change", "manifest_package",
                                 "package_snapshot", "pos_sale_line", "adjustment",
                                 "metrc_sale_line"]))
    label = draw(st.sampled_from(LABELS))
    when = T0 + timedelta(hours=draw(st.integers(0, 4 * 10)) * 6)  # 10 days, 6-hourly
    place = draw(st.sampled_from(PLACES))
    payload = {"label": label, "to_location": place, "location": place,
               "shipment_state": draw(st.sampled_from(["Accepted", "Rejected"])),
               "quantity": -1, "unit": "Each", "voided": False,
               "reason": draw(st.sampled_from(["Theft", "Spoilage"])),
               "note": draw(st.sampled_from(["", "note", "broken jar"])),
               "recorded_at": (when + timedelta(hours=draw(st.sampled_from([-6, 0, 6, 24, 30]))))
               .isoformat()}
    known = EVENT_FIELDS[EventType(kind)]
    return {"type": kind, "occurred_at": when.isoformat(), "package_label": label,
            "reference": "M-1", "payload": {k: v for k, v in payload.items() if k in known}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("streams") / "auditor.db"
    opened = open_store(Settings(database_url=f"sqlite:///{path}"), migrate=True)
    yield opened
    opened.engine.dispose()


def both_ways(store, rule, stream):
    license = License(f"HYP-{next(numbers)}", "CA", "America/Los_Angeles", ("Sales Floor",),
                      "Hypothesis", ("Vault",))
    store.add_license(license)
    lines = "\n".join(json.dumps({"natural_key": f"h-{i}", **e}) for i, e in enumerate(stream))
    assert ingest(store, license.number, "events", "h.ndjson", lines.encode()).rejected == 0
    end = T0 + timedelta(days=12)
    batch = store.evaluate(license.number, rule, T0 - timedelta(days=1), end)
    expected = sorted(explain(rule, v, license.zone()).identity for v in batch.violations)
    pack = Pack("h", 1, "h", (rule,))
    worker = Worker(ContinuousStore(store.engine), [license], lambda _: pack, batch=7)
    run_once(worker, until=end)
    found = ContinuousStore(store.engine).findings(worker.ids[license.number])
    return sorted(r["identity"] for r in found if r["status"] != "withdrawn"), expected


@pytest.mark.parametrize("rule_id", ["transfer-before-move", "untracked-package",
                                     "activity-before-acceptance", "tag-invalid",
                                     "adjustment-note-required", "pos-sale-unreported"])
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(an_event(), max_size=25))
def test_continuous_equals_batch_on_generated_streams(store, rule_id, stream):
    found, expected = both_ways(store, RULES[rule_id], stream)
    assert found == expected
