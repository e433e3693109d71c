"""The requires_prior program on its own: every prior of a key counts, not only the first."""

from datetime import UTC, datetime, timedelta

from auditor.continuous.engine import RulesEngine
from auditor.continuous.evaluator import LicenseEvaluator
from auditor.domain.events import StreamEvent
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from tests.conftest import LICENSE

RULES = {rule.id: rule for rule in load_pack(default_rules_dir()).rules}
TAG = "1A4000000000000000000001"
T0 = datetime(2026, 3, 20, 18, tzinfo=UTC)


def change(id, days):
    return StreamEvent(id, "location_change", T0 + timedelta(days=days), TAG, None,
                       {"label": TAG, "location": "Sales Floor"})


def test_a_move_is_covered_by_any_change_in_its_window_even_beside_an_older_one():
    pack = Pack("p", 1, "p", (RULES["transfer-before-move"],))
    ev = LicenseEvaluator(pack, LICENSE, RulesEngine())
    # Two changes of the same key wait in the engine: one outside the 7-day look-back,
    # one inside it. The move must be judged against both, whichever joins first.
    move = StreamEvent(3, "move", T0, TAG, None, {"label": TAG, "to_location": "Sales Floor"})
    assert ev.feed([change(1, -10), change(2, -1), move]) == []
    late_move = StreamEvent(5, "move", T0 + timedelta(days=20), TAG, None,
                            {"label": TAG, "to_location": "Sales Floor"})
    assert [d.status for d in ev.feed([change(4, 19.5 - 30), late_move])] == ["open"]


def test_a_late_older_change_does_not_hide_the_one_in_the_window():
    pack = Pack("p", 1, "p", (RULES["transfer-before-move"],))
    ev = LicenseEvaluator(pack, LICENSE, RulesEngine())
    assert ev.feed([change(1, -1)]) == []
    assert ev.feed([change(2, -10)]) == []  # arrives late: asserted after the newer one
    move = StreamEvent(3, "move", T0, TAG, None, {"label": TAG, "to_location": "Sales Floor"})
    assert ev.feed([move]) == []
    assert ev.late == 1


def listing(id, days):
    return StreamEvent(id, "package_snapshot", T0 + timedelta(days=days), TAG, None,
                       {"label": TAG, "location": "Vault", "quantity": 1, "unit": "Each"})


def move(id, days):
    return StreamEvent(id, "move", T0 + timedelta(days=days), TAG, None,
                       {"label": TAG, "to_location": "Vault"})


def test_a_prior_moved_out_of_the_engine_into_history_still_counts():
    pack = Pack("p", 1, "p", (RULES["untracked-package"],))
    ev = LicenseEvaluator(pack, LICENSE, RulesEngine())
    assert ev.feed([listing(1, 0)]) == []
    assert ev.feed([move(2, 30)]) == []  # a month on: the listing is history by now
    program = ev.programs[0]
    assert program.priors == {} and len(program.history) == 1
    assert ev.engine.working_memory() == 0


def test_a_violation_waits_in_the_host_until_a_later_prior_withdraws_it():
    pack = Pack("p", 1, "p", (RULES["untracked-package"],))
    ev = LicenseEvaluator(pack, LICENSE, RulesEngine())
    assert [d.status for d in ev.feed([move(1, 0)])] == ["open"]
    assert ev.engine.working_memory() == 0  # the judged trigger left the engine
    assert ev.programs[0].waiting() == 1
    assert [d.status for d in ev.feed([listing(3, 2)])] == ["withdrawn"]
    assert ev.programs[0].waiting() == 0


def test_an_idle_packages_state_leaves_the_engine_and_still_judges_its_next_sale():
    pack = Pack("p", 1, "p", (RULES["sale-outside-sales-floor"],))
    ev = LicenseEvaluator(pack, LICENSE, RulesEngine())
    assert ev.feed([listing(1, 0)]) == []  # METRC lists the package in the vault
    other = StreamEvent(2, "move", T0 + timedelta(days=10), "1A4000000000000000000002", None,
                        {"label": "1A4000000000000000000002", "to_location": "Vault"})
    assert ev.feed([other]) == []
    assert ev.engine.working_memory() == 0  # ten idle days: the state is in the host only
    sale = StreamEvent(3, "pos_sale_line", T0 + timedelta(days=11), TAG, "R1",
                       {"receipt_id": "R1", "label": TAG, "quantity": 1, "unit": "Each",
                        "voided": False})
    assert [d.finding.rule_id for d in ev.feed([sale])] == ["sale-outside-sales-floor"]
