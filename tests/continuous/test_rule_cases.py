"""Every case of every continuously run rule: continuous findings equal the batch audit's.

Each case's events are ingested, audited in batch (SQL), and streamed through the
worker with the same cut-off; the two sets of finding identities must be equal.
"""

from datetime import timedelta

import pytest

from auditor.continuous.compiler import compile_rule
from auditor.continuous.engine import RulesEngine
from auditor.continuous.programs import Unsupported
from auditor.domain.findings import explain
from auditor.domain.rules import Pack
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore
from tests.integration.test_rule_cases import CASES, load_case

BATCH_ONLY: set[str] = set()


def supported(license, rule):
    try:
        compile_rule(rule, license, RulesEngine())
    except Unsupported:
        return False
    return True


RUN = [(lic, rule, case) for lic, rule, case in CASES if supported(lic, rule)]


def test_the_batch_only_rules_are_exactly_the_documented_ones():
    skipped = {rule.id for lic, rule, _ in CASES if not supported(lic, rule)}
    assert skipped == BATCH_ONLY


def continuous_identities(store, license, rule, end):
    pack = Pack("case", 1, "case", (rule,))
    worker = Worker(ContinuousStore(store.engine), [license], lambda _: pack,
                    lateness=timedelta(0))
    run_once(worker, until=end)
    rows = ContinuousStore(store.engine).findings(worker.ids[license.number])
    return sorted(row["identity"] for row in rows if row["status"] != "withdrawn")


@pytest.mark.reliability
@pytest.mark.parametrize(("license", "rule", "case"), RUN,
                         ids=[f"{lic.state} {r.id}: {c.name}" for lic, r, c in RUN])
def test_continuous_findings_equal_the_batch_findings(sql_store, license, rule, case, figure):
    start, end = load_case(sql_store, license, case)
    batch = sql_store.evaluate(license.number, rule, start, end)
    expected = sorted(explain(rule, v, license.zone()).identity for v in batch.violations)
    continuous = continuous_identities(sql_store, license, rule, end)
    figure("rules: cases where the continuous and batch backends disagree",
           int(continuous != expected), of=1, database=sql_store.engine.dialect.name)
    assert continuous == expected
    assert len(expected) == len(case.expect)
