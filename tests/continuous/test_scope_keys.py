"""The keys a re-judge admits triggers by (`settle.shared_keys`), end to end.

A step re-judges the triggers from `since` on (a few days before its new events) and
those sharing a key with them. Each key query reads every trigger of the key over the
whole history, so a rule asks only for the keys its verdicts can depend on: here a
counterpart, or a package fact, arrives dated weeks after the trigger it changes, which
only the key reaches, and the worker's standing findings must still equal the batch's.
"""

import json
from datetime import UTC, datetime, timedelta

from auditor.domain.findings import explain
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.ingest import ingest
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore
from tests.conftest import LICENSE

RULES = {r.id: r for r in load_pack(default_rules_dir()).rules}
TAG, OTHER = "1A4000000000000000000001", "1A4000000000000000000002"
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def add(store, name, *lines):
    ingest(store, LICENSE.number, "events", name,
           "\n".join(json.dumps(line) for line in lines).encode())


def line(kind, key, day, payload, reference=None, tag=TAG):
    return {"type": kind, "natural_key": key, "occurred_at": f"2026-{day}T18:00:00Z",
            "package_label": tag, "reference": reference, "payload": {"label": tag, **payload}}


def restarted(store, pack):
    """Return a worker started anew: its durable-rules engine is cold (it missed the
    stored events), so the settle alone answers, as after any restart."""
    return Worker(ContinuousStore(store.engine), [LICENSE], lambda _: pack,
                  lateness=timedelta(0))


def standing_and_batch(store, pack):
    """Return the worker's standing identities and the batch audit's, per rule."""
    found = ContinuousStore(store.engine)
    license_id = found.license_ids([LICENSE.number])[LICENSE.number]
    standing = sorted(row["identity"] for row in found.findings(
        license_id, ("open", "remedied"), START, END))
    batch = sorted(explain(rule, v, LICENSE.zone()).identity for rule in pack.rules
                   for v in store.evaluate(LICENSE.number, rule, START, END).violations)
    return standing, batch


def test_a_late_dated_counterpart_withdraws_a_finding_through_its_reference(sql_store):
    """metrc-sale-without-pos matches the receipt and the tag: a POS line dated weeks after
    the METRC line (an `ever` prior) is reached through the receipt alone."""
    pack = Pack("p", 1, "p", (RULES["metrc-sale-without-pos"],))
    sale = {"quantity": 1, "unit": "Each"}
    add(sql_store, "metrc.ndjson",
        line("metrc_sale_line", "m-1", "01-05", {**sale, "external_receipt_number": "R1"}, "R1"))
    add(sql_store, "pos-1.ndjson",  # the POS source reports weeks past the sale: not pending
        line("pos_sale_line", "p-2", "02-10", {**sale, "receipt_id": "R2", "voided": False},
             "R2"))
    run_once(restarted(sql_store, pack))
    standing, batch = standing_and_batch(sql_store, pack)
    assert len(standing) == 1 and standing == batch
    add(sql_store, "pos-2.ndjson",
        line("pos_sale_line", "p-1", "02-20", {**sale, "receipt_id": "R1", "voided": False},
             "R1"))
    run_once(restarted(sql_store, pack))
    assert standing_and_batch(sql_store, pack) == ([], [])


def test_a_late_dated_listing_raises_a_count_variance_through_its_tag(sql_store):
    """count-variance checks a count line's own fields, but only of known packages and
    against the package's on-hand: a manifest dated weeks after the count makes the
    package known, and only the tag reaches the count."""
    pack = Pack("p", 1, "p", (RULES["count-variance"],))
    add(sql_store, "count.ndjson", line("count_line", "c-1", "01-05", {
        "count_id": "C-1", "counted_quantity": 9, "unit": "Each"}, "C-1"),
        line("count_line", "c-2", "02-15", {  # the clock: weeks past the first count
            "count_id": "C-2", "counted_quantity": 1, "unit": "Each"}, "C-2", OTHER))
    run_once(restarted(sql_store, pack))
    assert standing_and_batch(sql_store, pack) == ([], [])  # an unknown tag is not judged
    add(sql_store, "manifest.ndjson", line("manifest_package", "mp-1", "02-20", {
        "shipment_state": "Accepted", "received_quantity": 10}, "0000000001"))
    run_once(restarted(sql_store, pack))
    standing, batch = standing_and_batch(sql_store, pack)
    assert len(standing) == 1 and standing == batch
