"""Every case of every rule, through the batch (SQL) backend, on every engine.

The events are stored in SQLite or PostgreSQL; each case is evaluated there, and again
on the analytical copy of the license's events (DuckDB): the findings must not depend on
where the rules ran.

States, rules and cases are discovered from the rules folder: core rules run under the
core pack's parameters for a California license; a state's own rules (the files in its
folder) run under that state's pack for a license of that state, in the pack's zone.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from auditor.domain.findings import explain
from auditor.domain.license import License
from auditor.rules.loader import (
    CITATIONS_FILE,
    PACK_FILE,
    default_rules_dir,
    load_pack,
    state_packs,
)
from auditor.services.ingest import ingest
from auditor.services.ports import AUDIT_ENGINES
from tests.conftest import LICENSE

RULES_DIR = default_rules_dir()
STATES = state_packs(RULES_DIR)


def state_license(state):
    """Return a test license of the state, in its pack's time zone (which it must name)."""
    zone = load_pack(RULES_DIR, state).timezone
    assert zone, f"rules/states/{state.lower()}/pack.yaml names no timezone"
    return License(f"{state}-TEST-1", state, zone, ("Sales Floor",), "Test", ("Vault",))


def own_rule_ids(state):
    """Return the ids of the rules a state's folder holds (its own versions and rules)."""
    folder = RULES_DIR / "states" / state.lower()
    return {path.stem for path in folder.glob("*.yaml")
            if path.name not in (PACK_FILE, CITATIONS_FILE)}


def state_rules():
    for state in STATES:
        license, own = state_license(state), own_rule_ids(state)
        for rule in load_pack(RULES_DIR, state).rules:
            if rule.id in own:
                yield license, rule


CASES = [(LICENSE, rule, case) for rule in load_pack(RULES_DIR).rules for case in rule.cases]
CASES += [(license, rule, case) for license, rule in state_rules() for case in rule.cases]


def as_event(number, event):
    return {"natural_key": f"case-{number}", "reference": None, "package_label": None, **event}


def load_case(store, license, case):
    """Ingest a case's events for license; return the period that covers them all."""
    if license != LICENSE:
        store.add_license(license)
    lines = "\n".join(json.dumps(as_event(i, e)) for i, e in enumerate(case.events))
    summary = ingest(store, license.number, "events", "case.ndjson", lines.encode())
    assert summary.rejected == 0, summary.rejections
    times = [datetime.fromisoformat(e["occurred_at"]) for e in case.events]
    return min(times) - timedelta(days=1), max(times) + timedelta(days=2)


def project(finding, keys):
    values = {"package_label": finding.package_label, "subject": finding.subject,
              "occurred_at": finding.occurred_at}
    return tuple(values[k] for k in keys)


def expected(expect, keys):
    def value(entry, key):
        raw = entry[key]
        return datetime.fromisoformat(raw).astimezone(UTC) if key == "occurred_at" else raw
    return sorted(tuple(value(e, k) for k in keys) for e in expect)


@pytest.mark.reliability
@pytest.mark.parametrize("engine", AUDIT_ENGINES)
@pytest.mark.parametrize(("license", "rule", "case"), CASES,
                         ids=[f"{lic.state} {r.id}: {c.name}" for lic, r, c in CASES])
def test_rule_case(sql_store, license, rule, case, engine, figure):
    start, end = load_case(sql_store, license, case)
    with sql_store.audit_engine(license.number, engine) as evaluator:
        found = evaluator.evaluate(license.number, rule, start, end)
    findings = [explain(rule, v, license.zone()) for v in found.violations]
    # `message_includes` is text the finding's message must contain, not a key to compare.
    keys = sorted({k for e in case.expect for k in e} - {"message_includes"}) \
        or ["package_label", "occurred_at"]
    got = sorted(project(f, keys) for f in findings)
    figure("rules: batch (SQL) cases disagreeing with the case", int(got != expected(
        case.expect, keys)), of=1, database=sql_store.engine.dialect.name, engine=engine)
    assert got == expected(case.expect, keys)
    for finding in findings:
        assert "<" not in finding.message, f"message names an unknown field: {finding.message}"
    for text in (e["message_includes"] for e in case.expect if "message_includes" in e):
        assert any(text in f.message for f in findings), (text, [f.message for f in findings])


def test_the_cases_cover_every_rule_file_of_every_state():
    core = {path.stem for path in (RULES_DIR / "core").glob("*.yaml") if path.name != PACK_FILE}
    assert {rule.id for lic, rule, _ in CASES if lic == LICENSE} == core
    for state in STATES:
        ran = {rule.id for lic, rule, _ in CASES if lic.state == state and lic != LICENSE}
        assert ran == own_rule_ids(state) - set(load_pack(RULES_DIR, state).excluded), state


def test_every_rule_has_a_passing_and_a_failing_case():
    state_specific = [rule for _, rule in state_rules()]
    for rule in [*load_pack(RULES_DIR).rules, *state_specific]:
        assert any(not c.expect for c in rule.cases), f"{rule.id} has no passing case"
        assert any(c.expect for c in rule.cases), f"{rule.id} has no failing case"
