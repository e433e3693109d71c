"""Citations are per state: a license's rules cite its state and METRC, nobody else."""

import shutil

import pytest
import yaml

from auditor.domain.rules import METRC
from auditor.rules.loader import RuleInvalid, default_rules_dir, load_pack, state_packs

# How each state's regulations are spelled: a citation naming another state's is borrowed.
MARKERS = {"CA": ("CCR §", "16 CCR"), "CO": ("C.R.S.", "212-3", "Colorado"),
           "MI": ("Mich.", "R 420"), "OR": ("OAR ", "OLCC"), "MA": ("CMR",)}
ELSEWHERE = ("Illinois", "IL_IB")


def foreign_markers(state: str, text: str) -> list[str]:
    """Return the other states' citation markers found in a text."""
    return [m for other, marks in MARKERS.items() if other != state for m in marks
            if m in text] + [m for m in ELSEWHERE if m in text]


@pytest.mark.parametrize("state", state_packs(default_rules_dir()))
def test_every_rule_of_a_state_pack_cites_that_state_or_metrc_or_says_why_not(state):
    for rule in load_pack(default_rules_dir(), state).rules:
        assert {c.jurisdiction for c in rule.citations} <= {state, METRC}, rule.id
        assert rule.citations or rule.uncited, rule.id
        for citation in rule.citations:
            assert foreign_markers(state, citation.regulation) == [], (rule.id, citation)


def test_a_california_rule_without_a_california_provision_says_so():
    rules = {r.id: r for r in load_pack(default_rules_dir(), "CA").rules}
    unlisted = rules["manifest-package-unlisted"]
    assert unlisted.citations == () and "No California provision" in (unlisted.uncited or "")
    assert [c.regulation for c in rules["pos-sale-unreported"].citations] == [
        "4 CCR §15049(b) (sales recorded in track and trace within 24 hours)"]
    assert rules["tag-invalid"].citations[0].jurisdiction == METRC


def test_the_core_rule_files_cite_only_metrc():
    for rule in load_pack(default_rules_dir()).rules:
        assert all(c.jurisdiction == METRC and c.regulation.startswith("METRC")
                   for c in rule.citations), rule.id


@pytest.fixture
def rules_dir(tmp_path):
    shutil.copytree(default_rules_dir(), tmp_path / "rules")
    return tmp_path / "rules"


def _edit_table(rules_dir, change):
    path = rules_dir / "states" / "ca" / "citations.yaml"
    table = yaml.safe_load(path.read_text())
    change(table)
    path.write_text(yaml.safe_dump(table))


def test_a_state_table_missing_a_rule_in_force_is_refused_naming_it(rules_dir):
    _edit_table(rules_dir, lambda t: t["rules"].pop("count-variance"))
    with pytest.raises(RuleInvalid, match=r"citations.yaml: no entry for count-variance"):
        load_pack(rules_dir, "CA")


def test_an_empty_entry_is_refused_with_how_to_fix_it(rules_dir):
    _edit_table(rules_dir, lambda t: t["rules"].update({"count-variance": []}))
    with pytest.raises(RuleInvalid, match=r"count-variance: expected a list of citations, "
                                          r"or `none: why`"):
        load_pack(rules_dir, "CA")


def test_a_table_of_another_state_is_refused(rules_dir):
    _edit_table(rules_dir, lambda t: t.update(state="MI"))
    with pytest.raises(RuleInvalid, match="state MI where the pack is CA"):
        load_pack(rules_dir, "CA")
