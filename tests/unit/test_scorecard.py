"""The scorecard's arithmetic and its README rewrite (scripts/scorecard_table.py)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "scorecard_table.py"
_spec = importlib.util.spec_from_file_location("scorecard_table", SCRIPT)
assert _spec and _spec.loader
scorecard = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("scorecard_table", scorecard)  # dataclasses look their module up
_spec.loader.exec_module(scorecard)

FACTS = scorecard.RunFacts("2026-11-28 11:00 UTC", "abc1234", 125.4, "make scorecard",
                           "40 passed")


def line(name, value, of=None, unit="", **detail):
    return {"name": name, "value": value, "of": of, "unit": unit, "test": "t",
            "detail": detail}


def test_figures_of_one_name_add_up_across_tests_and_databases():
    totals = scorecard.add_up([
        line("crash-import: lost", 0, of=100_000, database="sqlite"),
        line("crash-import: lost", 0, of=100_000, database="postgresql"),
        line("authz: cross-license reads", 1, of=1), line("authz: cross-license reads", 0, of=1),
    ])
    by_name = {t.name: t for t in totals}
    lost = by_name["crash-import: lost"]
    assert (lost.value, lost.of, lost.lines) == (0, 200_000, 2)
    assert scorecard.describe(lost) == "lost: **0** of 200,000 (PostgreSQL + SQLite)"
    reads = by_name["authz: cross-license reads"]
    assert (reads.value, reads.of) == (1, 2)
    assert [t.area for t in totals] == ["crash-import", "authz"]  # the catalog's order


def test_a_figure_without_a_total_anywhere_is_shown_without_one():
    (total,) = scorecard.add_up([line("api: schemathesis cases", 1),
                                 line("api: schemathesis cases", 1, of=5)])
    assert total.of is None and scorecard.describe(total) == "schemathesis cases: **2**"


def test_shares_are_averaged_and_areas_outside_the_catalog_kept():
    totals = scorecard.add_up([line("new-area: share", 99, of=100, unit="%"),
                               line("new-area: share", 100, of=100, unit="%")])
    assert scorecard.describe(totals[0]) == "share: **99.50** %"
    assert "| new-area |  | share" in scorecard.table(totals)


def test_the_readme_section_is_replaced_and_the_rest_kept(tmp_path):
    readme = ("# Title\n\n## Reliability scorecard\n\nintro\n\n" + scorecard.START
              + "\nold figures\n" + scorecard.END + "\n\n## Licence\n\nMIT\n")
    figures = tmp_path / "figures.jsonl"
    figures.write_text("\n".join(json.dumps(r) for r in [
        line("time: naive datetimes stored", 0, of=25, database="sqlite")]) + "\n")
    generated = scorecard.section(scorecard.add_up(scorecard.read_figures(figures)), FACTS)
    rewritten = scorecard.replace_section(readme, generated)
    assert "old figures" not in rewritten
    assert rewritten.startswith("# Title\n\n## Reliability scorecard\n\nintro\n\n")
    assert rewritten.endswith(scorecard.END + "\n\n## Licence\n\nMIT\n")
    assert "naive datetimes stored: **0** of 25 (SQLite)" in rewritten
    assert "`abc1234`" in rewritten and "2 min 05 s" in rewritten
    assert scorecard.replace_section(rewritten, generated) == rewritten  # stable


def test_a_readme_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="scorecard"):
        scorecard.replace_section("# Title\n", "x")
