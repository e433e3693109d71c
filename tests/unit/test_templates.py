"""Every template is declared once, with every part both backends need."""

from dataclasses import is_dataclass

from auditor.continuous.compiler import PROGRAMS
from auditor.domain.rules import Template
from auditor.rules.templates import TEMPLATES
from auditor.store.rules_sql import COMPILERS


def test_every_template_is_registered_with_params_schema_and_cost():
    assert set(TEMPLATES) == set(Template)
    for template, spec in TEMPLATES.items():
        assert spec.template is template
        assert is_dataclass(spec.params), f"{template}: params must be a dataclass"
        assert {"message"} <= set(spec.params.__dataclass_fields__)
        assert isinstance(spec.cost, int)
    costs = [spec.cost for spec in TEMPLATES.values()]
    assert len(set(costs)) == len(costs), "cost ranks order the audit: keep them distinct"


def test_every_registered_template_has_a_sql_compiler_and_a_program():
    assert set(COMPILERS) == set(TEMPLATES), "store.rules_sql.COMPILERS"
    assert set(PROGRAMS) == set(TEMPLATES), "continuous.compiler.PROGRAMS"


def test_schema_and_params_agree_on_parameter_names():
    for template, spec in TEMPLATES.items():
        schema_names = set(spec.schema().fields)
        assert schema_names == set(spec.params.__dataclass_fields__), template
