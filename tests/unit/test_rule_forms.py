"""The rule form: which parameters it shows, and the YAML it writes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.domain.errors import InvalidInput
from auditor.services.rule_forms import apply_form, form_fields, rule_data

RULES = Path(__file__).resolve().parents[2] / "rules" / "core"


def text(rule_id: str) -> str:
    return (RULES / f"{rule_id}.yaml").read_text(encoding="utf-8")


def test_the_form_shows_values_and_lists_but_leaves_match_keys_to_the_yaml() -> None:
    fields = {f.path: f for f in form_fields(text("pos-sale-unreported"))}
    assert fields["deadline"].value == "$sale_report_window"
    assert "pack's parameter sale_report_window" in fields["deadline"].hint
    assert fields["event.type"].kind == "list" and fields["event.type"].value == "pos_sale_line"
    assert "match" not in fields and not any(p.startswith("match") for p in fields)


def test_a_severity_change_rewrites_only_the_version_and_severity_lines() -> None:
    before = text("pos-sale-unreported")
    shipped = rule_data(before)["version"]
    after = apply_form(before, "", "low", {}, shipped + 1)
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
               if a != b]
    assert changed == [(f"version: {shipped}", f"version: {shipped + 1}"),
                       ("severity: critical", "severity: low")]


def test_a_parameter_is_written_with_its_type() -> None:
    after = rule_data(apply_form(text("pos-sale-unreported"), "Sales reach METRC", "high",
                                 {"deadline": "PT12H", "event.type": "pos_sale_line, x"}, 2))
    assert after["params"]["deadline"] == "PT12H" and after["title"] == "Sales reach METRC"
    assert after["params"]["event"]["type"] == ["pos_sale_line", "x"]
    assert after["cases"] == rule_data(text("pos-sale-unreported"))["cases"]


def test_a_bad_severity_or_number_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="severity 'urgent'"):
        apply_form(text("pos-sale-unreported"), "", "urgent", {}, 2)
    numeric = next((f for f in form_fields(text("count-variance")) if f.kind == "number"),
                   None)
    if numeric is not None:
        with pytest.raises(InvalidInput, match=numeric.path):
            apply_form(text("count-variance"), "", "high", {numeric.path: "lots"}, 2)
