"""The worker's narrowed compilers (`rules_sql.judge_scoped`) against the batch ones.

A scoped re-judge of an aggregate reads only the groups of the triggers in scope, and
one of a state rule only their packages' evidence; whatever the scope, what they find
in it must be exactly what the batch audit over the whole history finds there.
"""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from auditor.domain.rules import Template
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.settle import Clock, admits, counts_unaffected, scope_of
from auditor.services.worker_ports import Span
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.rules_sql import judge_scoped
from auditor.store.schema import events
from auditor.store.sql_store import refresh_statistics
from tests.continuous.test_sample_store import loaded

NARROWED = (Template.AGGREGATE, Template.STATE_AT_TIME)


def scopes(triggers):
    """Return (name, SQL part, Python test) scopes cut from the batch's own triggers (rows
    of events): from the middle one's time on, a few package tags, a few references."""
    times = sorted(t.occurred_at for t in triggers)
    middle = times[len(times) // 2]
    tags = sorted({t.package_label for t in triggers if t.package_label})[::3][:5]
    refs = sorted({t.reference for t in triggers if t.reference})[::4][:5]
    return [
        ("since the middle", lambda c: c.occurred_at >= middle,
         lambda t: t.occurred_at >= middle),
        ("some tags", lambda c: c.package_label.in_(tags), lambda t: t.package_label in tags),
        ("some references", lambda c: c.reference.in_(refs), lambda t: t.reference in refs),
    ]


def test_scoped_compilers_find_what_the_batch_finds_in_scope(sql_settings, tmp_path):
    store, license, bounds = loaded(sql_settings, tmp_path / "store")
    try:
        judged = scoped_against_batch(store, license, bounds)
    finally:
        store.engine.dispose()  # its own engine: close its connections, PostgreSQL's too
    assert judged, "the sample store plants violations of these templates"


def scoped_against_batch(store, license, bounds):
    """Assert, per rule and scope, that the narrowed compilers find what the batch finds
    there; return how many findings were compared."""
    refresh_statistics(store.engine)
    license_id = ContinuousStore(store.engine).license_ids([license.number])[license.number]
    rules = [r for r in load_pack(default_rules_dir(), license.state).rules
             if r.template in NARROWED]
    assert {r.template for r in rules} == set(NARROWED)
    judged = 0
    for rule in rules:
        batch = store.evaluate(license.number, rule, bounds[0] - timedelta(days=400),
                               bounds[1] + timedelta(days=400)).violations
        with store.engine.connect() as conn:  # the triggers' own columns, which scopes read
            triggers = conn.execute(sa.select(events).where(
                events.c.id.in_([v.event_id for v in batch]))).all()
        for name, part, admitted in scopes(triggers) if triggers else ():
            found, _ = judge_scoped(store.engine, rule, license_id, license, bounds[1], [part])
            expected = sorted(t.id for t in triggers if admitted(t))
            assert sorted(v.event_id for v in found) == expected, (rule.id, name)
            judged += len(expected)
    return judged


PKG, REF = "package_label", "reference"


@pytest.mark.parametrize(("rule_id", "arrived", "expected"), [
    ("sale-unsellable-package", ["pos_sale_line"], (False, (PKG,), True)),
    ("purchase-limit-exceeded", ["pos_sale_line", "package_snapshot"], (True, (), False)),
    ("package-oversold", ["metrc_sale_line"], (False, (PKG,), True)),
    ("package-oversold", ["manifest_package"], (False, (PKG,), False)),
    # The reference is matched: a counterpart changes only triggers of its receipt.
    ("pos-sale-unreported", ["pos_sale_line"], (True, (REF,), False)),
    ("sale-quantity-mismatch", ["metrc_sale_line"], (True, (REF,), False)),
    ("metrc-sale-without-pos", ["pos_sale_line"], (True, (REF,), False)),
    ("manifest-acceptance-late", ["receiving_scan"], (True, (REF,), False)),  # first_per
    # The tag alone is matched, or the package's facts are read (on_hand, known tags).
    # Matched by receipt, but remedied by a later adjustment of the package (its
    # corrected_by matches the tag): the tag too when an adjustment came.
    ("sale-quantity-mismatch", ["adjustment"], (True, (PKG, REF), False)),
    ("activity-before-acceptance", ["manifest_package"], (True, (PKG,), False)),
    ("count-variance", ["metrc_sale_line"], (True, (PKG,), False)),
    ("count-variance-unadjusted", ["metrc_sale_line"], (True, (PKG,), False)),
    # A check of the trigger's own fields: no other event changes it.
    ("tag-invalid", ["move"], (True, (), False)),
    # A reference list arrived: its events may lie before `since`, both keys admit them.
    ("tag-invalid", ["move", "adjust_reason"], (True, (PKG, REF), False)),
    # A match on other fields (a reason against the list in force): both keys, as before.
    ("adjustment-reason-valid", ["adjustment"], (True, (PKG, REF), False)),
    # A sale changes what counts from its time on had to cover, whatever their tags.
    ("reconciliation-overdue", ["metrc_sale_line", "count_line"], (True, (), False)),
])
def test_what_new_events_can_change_beyond_themselves(rule_id, arrived, expected):
    rule = next(r for r in load_pack(default_rules_dir(), "CA").rules if r.id == rule_id)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    assert admits(rule, {kind: Span(1, now, now) for kind in arrived}) == expected


@pytest.mark.parametrize(("arrived", "unaffected"), [
    ({"metrc_sale_line": (22, 23), "pos_sale_line": (22, 23)}, True),  # the next day's sales
    ({"metrc_sale_line": (20, 23)}, False),  # one sale at the last count line's instant
    ({"metrc_sale_line": (12, 13)}, False),  # a late sale: what a count covered may change
    ({"count_line": (22, 23)}, False),  # a count: its cutoff moves, a count may be added
    ({"package_snapshot": (21, 22)}, True),
])
def test_a_full_count_is_re_judged_only_when_new_events_can_reach_a_count(arrived, unaffected):
    """Events all later than every stored count line, none of them a count line, leave
    every count's coverage and the rule's cutoff as they were."""
    rule = next(r for r in load_pack(default_rules_dir(), "CA").rules
                if r.id == "reconciliation-overdue")
    day = datetime(2026, 1, 5, tzinfo=UTC)
    before = Clock({"count_line": day + timedelta(hours=20),
                    "metrc_sale_line": day + timedelta(hours=19)})
    marks = {kind: Span(1, day + timedelta(hours=a), day + timedelta(hours=b))
             for kind, (a, b) in arrived.items()}
    assert counts_unaffected(rule, marks, before) is unaffected
    scope = scope_of(rule, 10, 20, marks, before, None, False)
    assert (scope is None) is unaffected
