"""The license evaluator on its own: event time, late events, withdrawals, rule changes."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from auditor.continuous.engine import RulesEngine
from auditor.continuous.evaluator import LicenseEvaluator
from auditor.domain.events import StreamEvent
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack, state_packs
from tests.conftest import LICENSE

RULES = {rule.id: rule for rule in load_pack(default_rules_dir()).rules}
TAG = "1A4000000000000000000001"
T0 = datetime(2026, 1, 5, 18, tzinfo=UTC)


def event(id, kind, hours, **payload):
    return StreamEvent(id, kind, T0 + timedelta(hours=hours), TAG, None,
                       {"label": TAG, **payload})


def evaluator(*rule_ids, lateness=timedelta(0)):
    pack = Pack("p", 1, "p", tuple(RULES[r] for r in rule_ids))
    return LicenseEvaluator(pack, LICENSE, RulesEngine(), lateness)


def test_a_move_without_a_location_change_is_reported_as_soon_as_it_is_decidable():
    ev = evaluator("transfer-before-move")
    decided = ev.feed([event(1, "move", 0, to_location="Sales Floor")])
    assert [(d.status, d.finding.rule_id) for d in decided] == [("open", "transfer-before-move")]


def test_an_event_waits_behind_the_watermark_so_a_late_prior_still_counts():
    ev = evaluator("transfer-before-move", lateness=timedelta(hours=1))
    assert ev.feed([event(2, "move", 0, to_location="Sales Floor")]) == []
    # The location change is imported after the move but happened before it.
    assert ev.feed([event(3, "location_change", -0.5, location="Sales Floor")]) == []
    assert ev.feed([event(4, "move", 5, to_location="Vault")]) == []  # move 2 was fine
    assert [d.finding.evidence for d in ev.advance(T0 + timedelta(hours=5))] == [(4,)]
    assert ev.late == 0


def test_an_untracked_package_later_listed_by_metrc_is_withdrawn():
    ev = evaluator("untracked-package")
    first = ev.feed([event(1, "move", 0, to_location="Vault")])
    assert [d.status for d in first] == ["open"]
    later = ev.feed([event(2, "package_snapshot", 3)])
    assert [d.status for d in later] == ["withdrawn"]
    assert later[0].finding.identity == first[0].finding.identity


def test_findings_name_the_rule_version_that_produced_them():
    newer = replace(RULES["tag-invalid"], version=7)
    ev = LicenseEvaluator(Pack("p", 2, "p", (newer,)), LICENSE, RulesEngine())
    decided = ev.feed([StreamEvent(1, "move", T0, "bad", None, {"label": "bad"})])
    assert [(d.finding.rule_id, d.finding.rule_version) for d in decided] == [
        ("tag-invalid", 7)]


BATCH_ONLY: set[str] = set()  # every core rule runs continuously


def test_every_core_rule_runs_continuously():
    ev = evaluator(*RULES)
    assert set(ev.batch_only) == BATCH_ONLY
    assert {p.rule.id for p in ev.programs} == set(RULES)


@pytest.mark.parametrize("state", state_packs(default_rules_dir()))
def test_every_rule_of_every_state_pack_runs_continuously(state):
    license = replace(LICENSE, state=state)
    pack = load_pack(default_rules_dir(), state)
    ev = LicenseEvaluator(pack, license, RulesEngine())
    assert set(ev.batch_only) == BATCH_ONLY
    assert {p.rule.id for p in ev.programs} == {
        r.id for r in pack.rules if r.applies_to(state)}


def test_rules_the_engine_cannot_run_are_named_as_batch_only():
    oversold = RULES["package-oversold"]
    # A from_start amount counts before all others: reporting it has no streaming order.
    odd = replace(oversold, params=replace(oversold.params,
                                           report=("manifest_package", "adjustment")))
    ev = LicenseEvaluator(Pack("p", 1, "p", (odd, RULES["tag-invalid"])), LICENSE,
                          RulesEngine())
    assert list(ev.batch_only) == ["package-oversold"]
    assert [p.rule.id for p in ev.programs] == ["tag-invalid"]


def test_working_memory_stays_bounded_by_the_look_back_window():
    ev = evaluator("transfer-before-move")
    for day in range(60):
        ev.feed([event(2 * day + 1, "location_change", 24 * day, location="Vault")])
    assert ev.engine.working_memory() <= 8  # seven days of changes, not sixty


def sale(id, hours):
    return StreamEvent(id, "pos_sale_line", T0 + timedelta(hours=hours), TAG, "R-1",
                       {"label": TAG, "voided": False, "quantity": 1.0, "unit": "Each"})


def metrc_line(id, hours, recorded_hours):
    recorded = (T0 + timedelta(hours=recorded_hours)).isoformat()
    return StreamEvent(id, "metrc_sale_line", T0 + timedelta(hours=hours), TAG, "R-1",
                       {"label": TAG, "quantity": 1.0, "unit": "Each", "recorded_at": recorded})


def test_a_sale_reported_before_its_deadline_leaves_no_finding():
    ev = evaluator("pos-sale-unreported")
    ev.feed([sale(1, 0), metrc_line(2, 0, 20)])
    assert ev.advance(T0 + timedelta(hours=30)) == []


def test_an_unreported_sale_is_found_when_its_window_closes_on_the_event_clock():
    ev = evaluator("pos-sale-unreported")
    assert ev.feed([sale(1, 0)]) == []
    assert ev.advance(T0 + timedelta(hours=23)) == []
    assert [d.status for d in ev.advance(T0 + timedelta(hours=24))] == ["open"]


def test_a_report_after_the_deadline_remedies_the_finding_and_keeps_both_times():
    ev = evaluator("pos-sale-unreported")
    ev.feed([sale(1, 0)])
    found = ev.advance(T0 + timedelta(hours=25))
    later = ev.feed([metrc_line(2, 30, 30)])
    assert [d.status for d in later] == ["remedied"]
    assert later[0].finding.identity == found[0].finding.identity
    assert later[0].finding.occurred_at == T0
    assert later[0].remedied_at == T0 + timedelta(hours=30)


def test_a_report_in_time_that_arrives_late_withdraws_the_finding():
    ev = evaluator("pos-sale-unreported")
    ev.feed([sale(1, 0)])
    assert [d.status for d in ev.advance(T0 + timedelta(hours=25))] == ["open"]
    # The METRC line was recorded in time but its event time is after the deadline.
    assert [d.status for d in ev.feed([metrc_line(2, 26, 10)])] == ["withdrawn"]
