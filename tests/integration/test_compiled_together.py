"""A template's one query of found, pending and undetermined events (`Compiled.together`)
against its three separate queries.

The batch audit runs the one query where a template gives it (state rules, full counts),
the worker's re-judge the separate ones: over a generated store with planted
violations, both must give the same evaluation, rule by rule, violations (with their
fields), pending obligations and undetermined events alike.
"""

from dataclasses import replace

from auditor.rules.loader import default_rules_dir, load_pack
from auditor.store import rules_sql
from auditor.store.continuous_sql import ContinuousStore
from tests.continuous.test_sample_store import loaded


def test_one_query_evaluates_as_the_three_separate_ones(sql_settings, tmp_path, monkeypatch):
    store, license, bounds = loaded(sql_settings, tmp_path / "store")
    try:
        pack = load_pack(default_rules_dir(), license.state)
        id_of = ContinuousStore(store.engine).license_ids([license.number])[license.number]
        together = [r for r in pack.rules if rules_sql.COMPILERS[r.template](
            r, id_of, license, store.engine.dialect.name, bounds[1]).together is not None]
        assert {r.id for r in together} >= {"sale-unsellable-package",
                                            "sale-outside-sales-floor",
                                            "reconciliation-overdue"}
        one = {r.id: store.evaluate(license.number, r, *bounds) for r in together}
        for template, compile_ in list(rules_sql.COMPILERS.items()):
            monkeypatch.setitem(rules_sql.COMPILERS, template,
                                lambda *args, compile_=compile_: replace(compile_(*args),
                                                                         together=None))
        three = {r.id: store.evaluate(license.number, r, *bounds) for r in together}
    finally:
        store.engine.dispose()
    assert one == three
    assert sum(len(e.violations) for e in one.values()) > 0, "the store plants violations"
    assert sum(len(e.undetermined) + e.pending for e in one.values()) > 0, (
        "something pending or undetermined to compare")
