"""reconciliation-overdue on a generated store: full counts recognised by what they cover.

The sample store counts every package every 28 days. Its full counts are renamed so that
no id says "full" (the pack's pattern is a hint only), and in one variant every count of
35 days is dropped: the rule must pass the first and find the second, on every engine
and in the continuous worker alike.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.continuous.engine import RulesEngine
from auditor.continuous.evaluator import LicenseEvaluator
from auditor.domain.findings import explain
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import local_bounds
from auditor.services.demo import load_sample_store
from auditor.services.ports import AUDIT_ENGINES
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore

DAYS = 100
STOPPED = (date(2026, 2, 1), date(2026, 3, 7))  # no count at all on these days (35)


def generated(folder, stop_counts):
    """Generate the clean store; rename its full counts; drop 35 days of counts if asked."""
    truth = generate_store(folder, StoreSpec(days=DAYS, receipts_per_day=10, seed=3,
                                             plant=False))
    for path in sorted(folder.glob("days/*/counts.csv")):
        day = date.fromisoformat(path.parent.name)
        if stop_counts and STOPPED[0] <= day <= STOPPED[1]:
            path.write_text(path.read_text().splitlines()[0] + "\n")  # the header alone
        else:
            path.write_text(path.read_text().replace("FULL-", "INV-"))
    return truth


def audited(settings, folder, stop_counts):
    truth = generated(folder, stop_counts)
    store = open_store(settings, migrate=True)
    load_sample_store(store, folder)
    license = store.get_license(truth["spec"]["license_number"])
    start = date.fromisoformat(truth["spec"]["start"])
    bounds = local_bounds(license, start, start + timedelta(days=DAYS))
    rule = next(r for r in load_pack(default_rules_dir(), license.state).rules
                if r.id == "reconciliation-overdue")
    return store, license, rule, bounds


def findings(store, license, rule, bounds, engine):
    with store.audit_engine(license.number, engine) as evaluator:
        found = evaluator.evaluate(license.number, rule, *bounds)
    return [explain(rule, v, license.zone()) for v in found.violations]


@pytest.mark.parametrize("engine", AUDIT_ENGINES)
def test_full_counts_recognised_by_coverage_pass_whatever_their_ids(sql_settings, tmp_path,
                                                                    engine):
    store, license, rule, bounds = audited(sql_settings, tmp_path / "store", False)
    assert findings(store, license, rule, bounds, engine) == []
    store.engine.dispose()


@pytest.mark.parametrize("engine", AUDIT_ENGINES)
def test_counts_stopped_for_35_days_are_found(sql_settings, tmp_path, engine):
    store, license, rule, bounds = audited(sql_settings, tmp_path / "store", True)
    found = findings(store, license, rule, bounds, engine)
    assert [f.subject for f in found] == ["INV-2026-01-29"]
    finding = found[0]
    # Dated when the 30 days after the count of 2026-01-29 21:30 ran out.
    assert finding.occurred_at == datetime(2026, 3, 1, 5, 30, tzinfo=UTC)
    assert finding.package_label is None
    # The next full count came on 2026-03-26: late, not missing, and the message says so.
    assert finding.fields["timeliness"] == "late"
    assert "began at 2026-03-26 21:30 PDT" in finding.message
    # The counts of the interval (two cycle counts before the stop) were not full: the
    # closer one is named with what it left uncounted.
    assert finding.fields["coverage"].startswith("The count closest to full in the interval")
    assert "uncounted: 1A4" in finding.message
    store.engine.dispose()


def test_the_worker_ends_at_the_batch_finding(sql_settings, tmp_path):
    store, license, rule, bounds = audited(sql_settings, tmp_path / "store", True)
    pack = load_pack(default_rules_dir(), license.state)
    only = type(pack)(pack.id, pack.version, pack.title, (rule,), pack.parameters,
                      pack.state, pack.excluded, pack.timezone)
    worker = Worker(ContinuousStore(store.engine), [license], lambda _: only, batch=500)
    run_once(worker, until=bounds[1])
    rows = ContinuousStore(store.engine).findings(worker.ids[license.number])
    standing = sorted(r["identity"] for r in rows if r["status"] != "withdrawn")
    assert standing == [f.identity for f in findings(store, license, rule, bounds, "sql")]
    store.engine.dispose()


def test_the_streaming_program_decides_as_the_batch_does(tmp_path):
    """The worker's engine (not only its settle) finds the gap as events stream in."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    store, license, rule, bounds = audited(settings, tmp_path / "store", True)
    continuous = ContinuousStore(store.engine)
    license_id = continuous.license_ids([license.number])[license.number]
    evaluator = LicenseEvaluator(Pack("p", 1, "p", (rule,)), license, RulesEngine(),
                                 lateness=timedelta(days=2))
    decisions, after = [], 0
    while rows := continuous.read_events([license_id], after, 5000):
        decisions += evaluator.feed([event for _, event in rows])
        after = rows[-1][1].id
    decisions += evaluator.advance(bounds[1])
    standing: dict[str, str] = {}
    for decision in decisions:
        standing[decision.finding.identity] = decision.status
    assert sorted(i for i, status in standing.items() if status != "withdrawn") == [
        f.identity for f in findings(store, license, rule, bounds, "sql")]
    assert list(standing.values()) == ["remedied"]  # the next full count came, late
    store.engine.dispose()
