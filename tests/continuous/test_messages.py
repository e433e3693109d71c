"""A message may name the derived fields; both backends fill them in alike."""

from dataclasses import replace

import pytest

from auditor.domain.findings import explain
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore
from tests.conftest import LICENSE
from tests.integration.test_rule_cases import load_case

RULES = {rule.id: rule for rule in load_pack(default_rules_dir()).rules}
MESSAGE = "Counted {counted_quantity} on {local_date}; METRC had {on_hand}."


def with_message(rule_id, message):
    rule = RULES[rule_id]
    return replace(rule, params=replace(rule.params, message=message))


def failing_case(rule):
    return next(case for case in rule.cases if case.expect)


def continuous_messages(store, rule, end):
    pack = Pack("m", 1, "m", (rule,))
    worker = Worker(ContinuousStore(store.engine), [LICENSE], lambda _: pack)
    run_once(worker, until=end)
    rows = ContinuousStore(store.engine).findings(worker.ids[LICENSE.number])
    return sorted(row["message"] for row in rows if row["status"] != "withdrawn")


@pytest.mark.parametrize("rule_id", ["count-variance", "count-variance-unadjusted"])
def test_derived_fields_render_in_both_backends(sql_store, rule_id):
    rule = with_message(rule_id, MESSAGE)
    start, end = load_case(sql_store, LICENSE, failing_case(RULES[rule_id]))
    batch = sorted(explain(rule, v, LICENSE.zone()).message
                   for v in sql_store.evaluate(LICENSE.number, rule, start, end).violations)
    assert batch and all("<" not in message for message in batch), batch
    assert any("METRC had 10." in message for message in batch), batch
    assert any("on 2026-01-05" in message for message in batch), batch
    assert continuous_messages(sql_store, rule, end) == batch


def batch_messages(store, rule, start, end):
    return sorted(explain(rule, v, LICENSE.zone()).message
                  for v in store.evaluate(LICENSE.number, rule, start, end).violations)


# The number (or state) that decides each finding, as the rule's failing case gives it.
DECIDING = {
    "count-variance": ["counted at 9 Each", "METRC's on-hand at that moment was 10 Each"],
    "sale-quantity-mismatch": ["sold 2 Each of package 1A4000000000000000000001 at "
                               "2026-01-05 14:00 PST in the POS; METRC recorded 1 Each",
                               "sold 3.5 Grams", "METRC recorded 3.5 Ounces"],
    "purchase-limit-exceeded": ["passed the daily non-concentrate limit with receipt R2",
                                "31.5 g that day, over the limit of 28.5 g"],
    "sale-unsellable-package": ["while METRC showed it on hold.",
                                "while METRC showed it untested (its lab testing state is "
                                "not a sellable one).", "while METRC showed it expired."],
}


@pytest.mark.parametrize("rule_id", sorted(DECIDING))
def test_messages_give_the_deciding_numbers_in_both_backends(sql_store, rule_id):
    rule = RULES[rule_id]
    case = [c for c in rule.cases if c.expect][-1]
    start, end = load_case(sql_store, LICENSE, case)
    batch = batch_messages(sql_store, rule, start, end)
    text = " | ".join(batch)
    assert "<" not in text and all(part in text for part in DECIDING[rule_id]), text
    assert continuous_messages(sql_store, rule, end) == batch


def test_every_failed_condition_is_named_and_joined_in_words(sql_store):
    rule = RULES["sale-unsellable-package"]
    events = [
        {"type": "package_snapshot", "occurred_at": "2026-01-05T08:00:00-08:00",
         "package_label": "1A4000000000000000000001",
         "payload": {"label": "1A4000000000000000000001", "lab_testing_state": "TestFailed",
                     "is_on_hold": True, "is_trade_sample": True}},
        {"type": "pos_sale_line", "occurred_at": "2026-01-05T14:00:00-08:00",
         "package_label": "1A4000000000000000000001", "reference": "R1",
         "payload": {"receipt_id": "R1", "label": "1A4000000000000000000001", "quantity": 1,
                     "unit": "Each", "voided": False}}]
    start, end = load_case(sql_store, LICENSE, replace(rule.cases[0], events=tuple(events)))
    batch = batch_messages(sql_store, rule, start, end)
    assert [m.split("showed it ")[1] for m in batch] == [
        "on hold, untested (its lab testing state is not a sellable one) and a trade sample."]
    assert continuous_messages(sql_store, rule, end) == batch


def sale_reported(recorded_at):
    """Return a POS sale at 14:00 PST and, if recorded_at, its METRC line recorded then."""
    label = "1A4000000000000000000001"
    events = [{"type": "pos_sale_line", "occurred_at": "2026-01-05T14:00:00-08:00",
               "package_label": label, "reference": "R1",
               "payload": {"receipt_id": "R1", "label": label, "quantity": 1, "unit": "Each",
                           "voided": False}}]
    if recorded_at:
        events.append({"type": "metrc_sale_line", "occurred_at": "2026-01-05T14:00:00-08:00",
                       "package_label": label, "reference": "R1",
                       "payload": {"external_receipt_number": "R1", "label": label,
                                   "quantity": 1, "unit": "Each", "recorded_at": recorded_at}})
    return events


def test_a_sale_reported_after_the_window_is_late_with_its_delay_in_both_backends(sql_store):
    rule = RULES["pos-sale-unreported"]
    events = sale_reported("2026-01-06T16:47:00-08:00")  # 26 h 47 min after the sale
    start, end = load_case(sql_store, LICENSE, replace(rule.cases[0], events=tuple(events)))
    [message] = batch_messages(sql_store, rule, start, end)
    assert message.startswith("Late: POS receipt R1 sold 1 Each")
    assert ("METRC recorded it at 2026-01-06 16:47 PST, 26 h 47 min after the sale, "
            "2 h 47 min past the 24 h window. It is in METRC: do not report it again.") in message
    assert continuous_messages(sql_store, rule, end) == [message]


def test_a_sale_never_reported_stays_missing(sql_store):
    rule = RULES["pos-sale-unreported"]
    start, end = load_case(sql_store, LICENSE, replace(rule.cases[0],
                                                       events=tuple(sale_reported(None))))
    [message] = batch_messages(sql_store, rule, start, end)
    assert message.startswith("Missing: POS receipt R1") and "within the 24 h reporting " \
        "window, nor since" in message
    assert continuous_messages(sql_store, rule, end) == [message]


@pytest.mark.parametrize("state, words", [
    ("CO", "times the limit (1 = 1 oz of flower"), ("MA", "times the limit (1 = 1 oz"),
    ("MI", "g on the receipt, over the limit of"), ("OR", "g that day, over the limit of")])
def test_each_states_purchase_limit_gives_the_total_and_the_limit(sql_store, state, words):
    rule = {r.id: r for r in load_pack(default_rules_dir(), state).rules}[
        "purchase-limit-exceeded"]
    license = replace(LICENSE, number=f"{state}-LIC", state=state)
    start, end = load_case(sql_store, license, failing_case(rule))
    batch = sorted(explain(rule, v, license.zone()).message
                   for v in sql_store.evaluate(license.number, rule, start, end).violations)
    assert batch and all(words in m and "<" not in m for m in batch), batch
