"""Rule packs load strictly: every problem names the file, the rule and the field."""

import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from auditor.domain.errors import InvalidInput
from auditor.domain.rules import parse_deadline, parse_duration
from auditor.rules.loader import RuleInvalid, default_rules_dir, load_pack

RULE = "transfer-before-move"


@pytest.fixture
def rules_dir(tmp_path):
    shutil.copytree(default_rules_dir(), tmp_path / "rules")
    return tmp_path / "rules"


def edit(rules_dir, change):
    path = rules_dir / "core" / f"{RULE}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_the_shipped_packs_load_for_every_state():
    for state in ("CA", "CO", "MI", "OR", "MA"):
        pack = load_pack(default_rules_dir(), state)
        assert pack.state == state and len(pack.content_hash) == 64
        assert {r.id for r in pack.rules} >= {RULE, "tag-invalid"}


def test_pack_hash_changes_with_any_rule_content(rules_dir):
    before = load_pack(rules_dir).content_hash
    edit(rules_dir, lambda d: d["params"].update(within="P8D"))
    assert load_pack(rules_dir).content_hash != before


@pytest.mark.parametrize("change, problem", [
    (lambda d: d.update(template="crystal_ball"), "template: Must be one of"),
    (lambda d: d.update(template="aggregate"), "sources: Missing data"),
    (lambda d: d.update(version="two"), "version: Not a valid integer"),
    (lambda d: d.update(severity="dire"), "severity: Must be one of"),
    (lambda d: d.update(colour="red"), "colour: Unknown field"),
    (lambda d: d.pop("citations"), "citations: Missing data"),
    (lambda d: d["params"].update(within="a week"), "within: 'a week' is not an ISO 8601"),
    (lambda d: d["params"].update(within="$nope"), "unknown parameter $nope"),
    (lambda d: d["params"]["event"].update(type=["teleport"]), "params: event.type.0"),
    (lambda d: d["params"]["match"][1].update(event="colour"), "have no field 'colour'"),
    (lambda d: d["params"]["event"].update(where=[{"field": "to_location", "op": "in"}]),
     "in needs a value"),
])
def test_an_invalid_rule_is_refused_with_file_rule_and_field(rules_dir, change, problem):
    edit(rules_dir, change)
    with pytest.raises(RuleInvalid) as caught:
        load_pack(rules_dir)
    assert f"{RULE}.yaml" in str(caught.value) and problem in str(caught.value)


def test_a_file_that_is_not_yaml_is_refused(rules_dir):
    (rules_dir / "core" / f"{RULE}.yaml").write_text("id: [unclosed")
    with pytest.raises(RuleInvalid, match="not valid YAML"):
        load_pack(rules_dir)


def test_a_state_without_a_pack_is_named(rules_dir):
    with pytest.raises(RuleInvalid, match="no rule pack for state TX"):
        load_pack(rules_dir, "TX")


@pytest.mark.parametrize("text, hours", [("PT24H", 24), ("P7D", 168), ("P1DT12H", 36)])
def test_durations(text, hours):
    assert parse_duration(text).total_seconds() == hours * 3600


@pytest.mark.parametrize("text", ["P", "PT", "24h", "P1W", "", "P1DT"])
def test_bad_durations_are_refused(text):
    with pytest.raises(InvalidInput, match="ISO 8601"):
        parse_duration(text)


def test_a_state_pack_leaves_out_the_rules_it_excludes_and_says_why():
    pack = load_pack(default_rules_dir(), "CO")
    assert "reconciliation-overdue" not in {r.id for r in pack.rules}
    assert "3-810(B)" in pack.excluded["reconciliation-overdue"]
    assert "reconciliation-overdue" in {r.id for r in load_pack(default_rules_dir(), "CA").rules}


def test_excluding_an_unknown_rule_is_refused(rules_dir):
    path = rules_dir / "states" / "co" / "pack.yaml"
    data = yaml.safe_load(path.read_text())
    data["exclude"] = {"teleport-check": "no such rule exists in the core pack"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RuleInvalid, match="exclude: no rule teleport-check"):
        load_pack(rules_dir, "CO")


def test_a_state_rule_replaces_the_core_rule_of_the_same_id():
    rule = next(r for r in load_pack(default_rules_dir(), "CO").rules
                if r.id == "purchase-limit-exceeded")
    assert rule.jurisdictions == ("CO",) and rule.params.group_by == ("receipt_id",)


NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize("text, event, due", [
    ("PT24H", "2026-03-07T20:00:00-05:00", "2026-03-08T20:00:00-05:00"),
    # The night clocks spring forward, 8 a.m. next day is 11 hours after 8 p.m., not 12.
    ("P1D at 08:00", "2026-03-07T20:00:00-05:00", "2026-03-08T08:00:00-04:00"),
    ("P1D at 08:00", "2026-03-08T00:30:00-05:00", "2026-03-09T08:00:00-04:00"),
    ("P2D at 00:00", "2026-11-01T23:00:00-05:00", "2026-11-03T00:00:00-05:00"),
])
def test_deadlines_fall_on_local_clock_times_across_daylight_saving(text, event, due):
    deadline = parse_deadline(text)
    assert deadline.due(datetime.fromisoformat(event), NEW_YORK) == datetime.fromisoformat(due)


@pytest.mark.parametrize("text", ["P1D at 8am", "PT12H at 08:00", "P1D at 24:00", "tomorrow"])
def test_bad_deadlines_are_refused_with_both_forms_named(text):
    with pytest.raises(InvalidInput, match="PT24H.*P1D at 08:00"):
        parse_deadline(text)
