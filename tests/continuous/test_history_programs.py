"""The programs that keep history (on-hand, lists in force, states, totals, reconciliation)
on their edge cases: same-instant events, late events, lists published later, DST days,
and the horizons that keep their memory bounded."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from auditor.continuous.aggregates import IDLE_HORIZON
from auditor.continuous.engine import RulesEngine
from auditor.continuous.evaluator import LicenseEvaluator
from auditor.continuous.reconcile import RECONCILE_HORIZON
from auditor.domain.events import StreamEvent
from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from tests.conftest import LICENSE

RULES = {rule.id: rule for rule in load_pack(default_rules_dir()).rules}
TAG = "1A4000000000000000000001"
T0 = datetime(2026, 1, 5, 18, tzinfo=UTC)
ids = iter(range(1, 10_000))


def at(hours):
    return T0 + timedelta(hours=hours)


def event(kind, hours, label=TAG, reference=None, **payload):
    body = {"label": label, **payload} if label else payload
    return StreamEvent(next(ids), kind, at(hours), label, reference, body)


def evaluator(*rule_ids, lateness=timedelta(0), license=LICENSE, rules=RULES):
    pack = Pack("p", 1, "p", tuple(rules[r] for r in rule_ids))
    return LicenseEvaluator(pack, license, RulesEngine(), lateness)


def statuses(decisions):
    return [(d.status, d.finding.occurred_at) for d in decisions]


def received(hours, quantity):
    return event("manifest_package", hours, shipment_state="Accepted",
                 received_quantity=quantity)


def count(hours, quantity):
    return event("count_line", hours, reference="C-1", counted_quantity=quantity, unit="Each")


def test_a_count_reads_the_sales_of_its_own_instant_whatever_their_order():
    ev = evaluator("count-variance")
    # The count comes first in id order, the sale at the same instant after it.
    decided = ev.feed([received(0, 10), count(5, 7), event("metrc_sale_line", 5, quantity=3)])
    assert decided + ev.advance(at(6)) == []


def test_a_count_of_a_tag_metrc_lists_only_later_is_judged_with_its_own_on_hand():
    ev = evaluator("count-variance")
    assert ev.feed([event("adjustment", 0, quantity=4), count(1, 3)]) == []
    # Listed later, and received later: on-hand at the count was 4, not 3 -> variance.
    decided = ev.feed([event("package_snapshot", 2, quantity=3), received(3, 10)])
    assert statuses(decided) == [("open", at(1))]


def test_a_count_variance_adjusted_late_is_remedied():
    ev = evaluator("count-variance-unadjusted")
    ev.feed([received(0, 10), count(1, 9)])
    assert statuses(ev.advance(at(26))) == [("open", at(1))]
    later = ev.feed([event("adjustment", 30, quantity=-1)])
    assert [(d.status, d.remedied_at) for d in later] == [("remedied", at(30))]


def reason(hours, name, digest):
    return StreamEvent(next(ids), "adjust_reason", at(hours), None, digest,
                       {"name": name, "list_digest": digest})


def adjustment(hours, why):
    return event("adjustment", hours, quantity=-1, reason=why, note="n")


def test_a_reason_list_published_after_the_activity_it_covers_withdraws_its_findings():
    ev = evaluator("adjustment-reason-valid")
    found = ev.feed([adjustment(0, "Spoilage"), adjustment(1, "Made up")])
    assert statuses(found) == [("open", at(0)), ("open", at(1))]
    # The list takes effect now, long after both: it is the list in force for both.
    later = ev.feed([reason(500, "Spoilage", "L1"), reason(500, "Theft", "L1")])
    assert statuses(later) == [("withdrawn", at(0))]


def test_a_newer_list_dropping_a_reason_makes_later_uses_of_it_violations():
    ev = evaluator("adjustment-reason-valid")
    ev.feed([reason(0, "Drying", "L1"), reason(0, "Spoilage", "L1"),
             reason(100, "Spoilage", "L2")])
    decided = ev.feed([adjustment(50, "Drying"), adjustment(150, "Drying"),
                       adjustment(151, "Spoilage")])
    assert statuses(decided + ev.advance(at(200))) == [("open", at(150))]


def test_a_list_imported_into_the_past_changes_the_version_in_force_from_its_time():
    ev = evaluator("adjustment-reason-valid")
    ev.feed([reason(0, "Drying", "L1"), adjustment(10, "Drying"), adjustment(30, "Drying")])
    assert ev.advance(at(40)) == []
    # A list effective at hour 20 without Drying: the adjustment at 30 breaks it now.
    assert statuses(ev.feed([reason(20, "Theft", "L2")])) == [("open", at(30))]


def snapshot(hours, **payload):
    return event("package_snapshot", hours, **payload)


def sale(hours, label=TAG, **payload):
    fields = {"receipt_id": "R1", "quantity": 1.0, "unit": "Each", "voided": False}
    return event("pos_sale_line", hours, label=label, reference="R1", **{**fields, **payload})


def test_a_state_of_the_sales_own_instant_counts_and_a_later_one_does_not():
    ev = evaluator("sale-outside-sales-floor")
    decided = ev.feed([snapshot(0, location="Vault"), sale(1), snapshot(1, location="Sales Floor"),
                       sale(2), event("location_change", 3, location="Vault")])
    assert decided + ev.advance(at(3)) == []
    assert statuses(ev.feed([sale(4)])) == [("open", at(4))]


def test_a_sale_of_a_tag_with_no_state_is_left_to_other_rules():
    ev = evaluator("sale-unsellable-package")
    assert ev.feed([sale(0, label="1A4000000000000000000009"), sale(1)]) == []


def test_expiry_is_judged_on_the_sales_local_date():
    ev = evaluator("sale-unsellable-package")
    # T0 + 13 h is 23:00 in Los Angeles on the 5th (07:00 UTC on the 6th); T0 + 15 h is
    # 01:00 on the 6th.
    state = snapshot(0, lab_testing_state="TestPassed", expiration_date="2026-01-05")
    assert ev.feed([state, sale(13)]) == []
    assert statuses(ev.feed([sale(15)])) == [("open", at(15))]


def metrc_line(hours, **payload):
    fields = {"quantity": 1.0, "unit": "Each"}
    return event("metrc_sale_line", hours, reference="R1", **{**fields, **payload})


def test_a_sale_line_is_found_when_a_different_metrc_line_arrives_before_or_after_it():
    ev = evaluator("sale-quantity-mismatch")
    assert ev.feed([metrc_line(0, quantity=2.0), sale(1)]) != []
    other = evaluator("sale-quantity-mismatch")
    assert other.feed([sale(0), metrc_line(1)]) == []  # agrees
    assert statuses(other.feed([metrc_line(2, unit="Grams")])) == [("open", at(0))]


def test_reconciliation_forgets_records_past_its_horizon():
    ev = evaluator("sale-quantity-mismatch")
    ev.feed([sale(0)])
    hours = RECONCILE_HORIZON.total_seconds() / 3600 + 1
    ev.feed([event("move", hours, to_location="Vault")])
    assert ev.programs[0].waiting() == 0
    assert ev.feed([metrc_line(hours + 1, quantity=5.0)]) == []  # too late to be compared


def oversold_case(manifest_hours):
    ev = evaluator("package-oversold")
    found = ev.feed([metrc_line(0, quantity=2.0), metrc_line(1, quantity=1.0)])
    return found, ev.feed([received(manifest_hours, 5), event("move", 10, to_location="V")])


def test_a_package_received_after_its_sales_withdraws_the_oversale():
    found, later = oversold_case(5)
    assert statuses(found) == [("open", at(0))]
    assert statuses(later) == [("withdrawn", at(0))]


def test_acceptance_at_the_same_instant_as_a_sale_counts_before_it():
    ev = evaluator("package-oversold")
    line = metrc_line(0, quantity=4.0)
    assert ev.feed([received(0, 0), line, received(0, 5)]) == []


def limit_sale(hours, customer, grams):
    return event("pos_sale_line", hours, reference="R", receipt_id="R", customer_id=customer,
                 category="Flower", quantity=grams, unit="Grams", voided=False)


def test_daily_limits_bucket_by_local_date_across_a_dst_change():
    ny = License("MA-TEST-1", "MA", "America/New_York", ("Sales Floor",), "Test", ("Vault",))
    rules = {r.id: r for r in load_pack(default_rules_dir(), "MA").rules}
    ev = evaluator("purchase-limit-exceeded", license=ny, rules=rules)
    # 2026-03-08 is the spring-forward day in New York: 04:30 UTC is 23:30 on the 7th,
    # 05:30 UTC is 01:30 on the 8th (still EST), 16:00 UTC is noon on the 8th (EDT).
    day = datetime(2026, 3, 8, tzinfo=UTC)
    sales = [StreamEvent(next(ids), "pos_sale_line", day + timedelta(hours=h), TAG, "R",
                         {"label": TAG, "receipt_id": f"R{h}", "customer_id": "C1",
                          "category": "Flower", "quantity": 20.0, "unit": "Grams",
                          "voided": False}) for h in (4.5, 5.5, 16)]
    decided = ev.feed(sales)
    assert [d.finding.occurred_at for d in decided] == [day + timedelta(hours=16)]


def test_a_customers_day_is_forgotten_once_idle_past_the_horizon():
    ev = evaluator("purchase-limit-exceeded")
    ev.feed([limit_sale(0, "C1", 20.0)])
    program = ev.programs[0]
    assert len(program.groups) == 1
    ev.feed([event("move", IDLE_HORIZON.total_seconds() / 3600 + 1, to_location="V")])
    assert program.groups == {}


def test_a_late_event_behind_the_watermark_runs_at_once():
    ev = evaluator("package-oversold", lateness=timedelta(hours=1))
    ev.feed([received(0, 1), event("move", 5, to_location="V")])
    # A sale two hours before the watermark: counted now, against the total so far.
    late = ev.feed([metrc_line(2, quantity=3.0)])
    assert ev.late == 1
    assert statuses(late) == [("open", at(2))]


def test_rule_versions_of_the_new_templates_name_themselves_in_findings():
    newer = replace(RULES["sale-quantity-mismatch"], version=4)
    ev = LicenseEvaluator(Pack("p", 1, "p", (newer,)), LICENSE, RulesEngine())
    decided = ev.feed([sale(0), metrc_line(0, quantity=3.0)])
    assert [(d.finding.rule_id, d.finding.rule_version) for d in decided] == [
        ("sale-quantity-mismatch", 4)]


def test_memory_stays_bounded_over_sixty_days_of_sales():
    ev = evaluator("sale-quantity-mismatch", "purchase-limit-exceeded", "package-oversold",
                   "sale-outside-sales-floor")
    held = []
    for day in range(60):
        tag = f"1A40000000000000000{day:05d}"
        ev.feed([event("manifest_package", 24 * day, label=tag, shipment_state="Accepted",
                       received_quantity=5),
                 event("package_snapshot", 24 * day, label=tag, location="Sales Floor"),
                 sale(24 * day + 1, label=tag, customer_id=f"C{day}", category="Flower"),
                 metrc_line(24 * day + 2, label=tag)])
        held.append(sum(p.waiting() for p in ev.programs) + ev.engine.working_memory())
    reconcile, limits = ev.programs[0], ev.programs[1]
    assert len(limits.groups) <= 3  # customers' days within the idle horizon
    assert reconcile.waiting() <= 2 * 4  # records within the reconciliation horizon
    assert max(held[30:]) == max(held[:30])  # flat: sixty days hold what four did
