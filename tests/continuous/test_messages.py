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
    assert any("METRC had 10.0" in message for message in batch), batch
    assert any("on 2026-01-05" in message for message in batch), batch
    assert continuous_messages(sql_store, rule, end) == batch
