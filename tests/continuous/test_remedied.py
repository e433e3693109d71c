"""A finding the batch audit names a remedy for stands as remedied in the worker, not open.

The batch verdict carries the rule's corrective event (`corrected_at`: a late follow-up,
a prior that came after, a declared correction). The settle writes such a finding as
remedied, with when, whether it first sees it already remedied or the remedy arrives
after the finding was raised; a cold worker (after any restart) answers from the settle
alone, so these run on one.
"""

from datetime import UTC, datetime

from auditor.domain.rules import Pack
from auditor.services.worker import run_once
from auditor.store.continuous_sql import ContinuousStore
from tests.conftest import LICENSE
from tests.continuous.test_scope_keys import RULES, add, line, restarted

SALE = {"quantity": 1, "unit": "Each"}
LATE = datetime(2026, 1, 8, 12, tzinfo=UTC)


def pos(reference, day):
    return line("pos_sale_line", f"p-{reference}", day,
                {**SALE, "receipt_id": reference, "voided": False}, reference)


def metrc(reference, day, recorded_at):
    return line("metrc_sale_line", f"m-{reference}", day,
                {**SALE, "external_receipt_number": reference,
                 "recorded_at": recorded_at.isoformat()}, reference)


def held(store):
    """Return the worker's findings: identity subject -> (status, remedied_at)."""
    found = ContinuousStore(store.engine)
    license_id = found.license_ids([LICENSE.number])[LICENSE.number]
    return {row["subject"]: (row["status"], row["remedied_at"] and
                             row["remedied_at"].replace(tzinfo=UTC))
            for row in found.findings(license_id)}


def batch_remedy(store, pack):
    rule = pack.rules[0]
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    return {v.fields.get("corrected_at") for v in
            store.evaluate(LICENSE.number, rule, start, end).violations}


def test_a_finding_first_seen_with_its_late_report_is_remedied(sql_store):
    pack = Pack("p", 1, "p", (RULES["pos-sale-unreported"],))
    add(sql_store, "day.ndjson", pos("R1", "01-05"), metrc("R1", "01-05", LATE),
        metrc("R9", "01-10", datetime(2026, 1, 10, 18, tzinfo=UTC)))  # METRC reported on
    run_once(restarted(sql_store, pack))
    assert held(sql_store) == {"R1": ("remedied", LATE)}
    assert batch_remedy(sql_store, pack) == {LATE.isoformat()}


def test_an_open_finding_turns_remedied_when_its_late_report_arrives(sql_store):
    pack = Pack("p", 1, "p", (RULES["pos-sale-unreported"],))
    add(sql_store, "pos.ndjson", pos("R1", "01-05"),
        metrc("R9", "01-10", datetime(2026, 1, 10, 18, tzinfo=UTC)))
    run_once(restarted(sql_store, pack))
    assert held(sql_store) == {"R1": ("open", None)}
    add(sql_store, "late.ndjson", metrc("R1", "01-05", LATE))
    run_once(restarted(sql_store, pack))
    assert held(sql_store) == {"R1": ("remedied", LATE)}
    store = ContinuousStore(sql_store.engine)
    found = store.findings(store.license_ids([LICENSE.number])[LICENSE.number])
    assert found[0]["message"].startswith("Late:")


def test_a_late_adjustment_remedies_a_quantity_mismatch_through_the_tag(sql_store):
    """sale-quantity-mismatch matches by receipt, but its remedy (a METRC adjustment) by
    the tag: an adjustment weeks after the sale reaches the finding through its tag."""
    pack = Pack("p", 1, "p", (RULES["sale-quantity-mismatch"],))
    add(sql_store, "sales.ndjson",
        line("pos_sale_line", "p-1", "01-05",
             {**SALE, "receipt_id": "R1", "voided": False}, "R1"),
        line("metrc_sale_line", "m-1", "01-05",
             {"quantity": 2, "unit": "Each", "external_receipt_number": "R1"}, "R1"))
    run_once(restarted(sql_store, pack))
    assert held(sql_store) == {"R1": ("open", None)}
    add(sql_store, "adjustments.ndjson", line("adjustment", "a-1", "01-20", {
        **SALE, "reason": "Entry Error", "note": "sold 1, METRC said 2"}))
    run_once(restarted(sql_store, pack))
    fixed = datetime(2026, 1, 20, 18, tzinfo=UTC)
    assert held(sql_store) == {"R1": ("remedied", fixed)}
    assert batch_remedy(sql_store, pack) == {fixed.isoformat()}
